// The one mapper from any error to `{ error: { code, message, fields } }` and a
// status. User mistakes are 4xx with a localized message; anything else is a 500
// whose details stay in the log.
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { AppError } from '../domain/errors.ts';
import { t, type Lang } from '../i18n/index.ts';
import { requestLang } from './lang.ts';

export const BODY_LIMIT = 1024 * 1024;

/** `bodyLimit`: the limit of the route that refused the body (two routes take 64 MiB). */
export function toAppError(err: unknown, bodyLimit = BODY_LIMIT): AppError | undefined {
  if (err instanceof AppError) return err;
  const e = err as FastifyError & { statusCode?: number };
  switch (e?.code) {
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return new AppError('MALFORMED_JSON', 'validation.json');
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new AppError('PAYLOAD_TOO_LARGE', 'error.payloadTooLarge', { limit: bodyLimit });
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return new AppError('UNSUPPORTED_MEDIA_TYPE', 'error.unsupportedMediaType');
    case 'FST_ERR_ROUTE_MISSING_CONTENT_TYPE':
      return new AppError('UNSUPPORTED_MEDIA_TYPE', 'error.unsupportedMediaType');
    case 'FST_ERR_BAD_URL':
      return new AppError('BAD_URL', 'error.badUrl', { url: /'(.*)'/.exec(e.message)?.[1]?.slice(0, 200) ?? '' });
    case 'FST_CSRF_MISSING_SECRET':
    case 'FST_CSRF_INVALID_TOKEN':
      return new AppError('CSRF', 'error.csrf');
  }
  if (e instanceof SyntaxError && e.statusCode === 400) return new AppError('MALFORMED_JSON', 'validation.json');
  return undefined;
}

export function errorBody(err: AppError, lang: Lang) {
  return { error: err.localized(lang) };
}

export function handleError(err: unknown, req: FastifyRequest, reply: FastifyReply): void {
  const lang = requestLang(req);
  const app = toAppError(err, req.routeOptions?.bodyLimit ?? BODY_LIMIT);
  if (app) {
    if (app.code === 'RATE_LIMITED') reply.header('retry-after', String(app.params.seconds ?? 60));
    reply.status(app.status).send(errorBody(app, lang));
    return;
  }
  const e = err as FastifyError;
  if (e?.statusCode && e.statusCode >= 400 && e.statusCode < 500) {
    // a client error Fastify found that we have no code for: keep the status
    req.log.info({ err: e }, 'http.client_error');
    reply.status(e.statusCode).send({ error: { code: e.code ?? 'BAD_REQUEST', message: t(lang, 'error.clientError', { status: e.statusCode, detail: e.message }) } });
    return;
  }
  req.log.error({ err }, 'http.internal_error');
  reply.status(500).send({ error: { code: 'INTERNAL', message: t(lang, 'error.internal') } });
}
