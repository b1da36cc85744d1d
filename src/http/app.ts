// The Fastify application as a plugin-free factory: tests call `buildApp(ctx)`
// and `inject()` with no port; `serve` listens. Routes stay thin: they call the
// services, and one error mapper shapes every error.
import Fastify, { type FastifyInstance } from 'fastify';
import fastifyCookie from '@fastify/cookie';
import fastifySession from '@fastify/session';
import fastifyCsrf from '@fastify/csrf-protection';
import fastifyHelmet from '@fastify/helmet';
import fastifyRateLimit from '@fastify/rate-limit';
import fastifySwagger from '@fastify/swagger';
import fastifySwaggerUi from '@fastify/swagger-ui';
import { createHmac } from 'node:crypto';
import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import type { TSchema } from 'typebox';
import { Value } from 'typebox/value';
import { AppError, ValidationError, type FieldIssue } from '../domain/errors.ts';
import { schemaIssues, unsafeTextIssues } from '../domain/validation.ts';
import { AuthService } from '../services/auth.ts';
import type { AppContext } from '../services/context.ts';
import { MailAccountService } from '../services/mail-accounts.ts';
import { MailServerService } from '../services/mail-servers.ts';
import { OAuthProviderService } from '../services/oauth-providers.ts';
import { DatabaseSessionStore, requireAuth, SESSION_COOKIE, SESSION_MAX_AGE } from './auth.ts';
import { BODY_LIMIT, handleError } from './error-mapper.ts';
import { langFromAcceptLanguage, t } from '../i18n/index.ts';
import { auditLogRoutes } from './routes/audit-log.ts';
import { bulkDeliveryRoutes } from './routes/bulk-deliveries.ts';
import { deliveryRoutes } from './routes/deliveries.ts';
import { authRoutes } from './routes/auth.ts';
import { mailAccountRoutes } from './routes/mail-accounts.ts';
import { mailServerRoutes } from './routes/mail-servers.ts';
import { messageRoutes } from './routes/messages.ts';
import { oauthCallbackRoute, oauthProviderRoutes } from './routes/oauth.ts';
import { operationsRoutes } from './routes/operations.ts';
import { settingsRoutes } from './routes/settings.ts';
import { receivingRoutes } from './routes/receiving.ts';
import { registerWebUi, type WebUi } from './static.ts';
import { unsubscribeRoutes } from './routes/unsubscribe.ts';

export interface BuildAppOptions {
  /** pino logger options, or false for none (tests) */
  logger?: boolean | object;
}

export async function buildApp(ctx: AppContext, opts: BuildAppOptions = {}): Promise<FastifyInstance> {
  const app = Fastify({
    logger: opts.logger === undefined ? false : opts.logger,
    bodyLimit: BODY_LIMIT,
    // behind a reverse proxy (YUBIN_TRUST_PROXY): the client's address for rate limits and
    // logs, and https for Secure cookies, come from its X-Forwarded-* headers
    trustProxy: ctx.config.trustProxy ?? false,
    ajv: undefined,
    // ids are 36 characters, but a suppressed mail address in a path can be up to 1,000
    // percent-encoded: Fastify's default of 100 answered 414 and made such an address undeletable
    // `/api/v1/mail-servers/` is the list, not the mail server with the id ''
    routerOptions: { maxParamLength: 4096, ignoreTrailingSlash: true },
    // a path Fastify cannot decode (`%ZZ`) gets our error shape in the request's language
    frameworkErrors: (err, req, reply) => handleError(err, req, reply),
    // what Node's HTTP parser refuses before Fastify sees a request (a space or a raw
    // non-ASCII character in the URL, as `curl '…/messages?q=日本語'` sends it; a broken
    // header): our error shape in the request's language, not Fastify's English default
    clientErrorHandler: clientError,
  });
  const services = {
    servers: new MailServerService(ctx),
    accounts: new MailAccountService(ctx),
    auth: new AuthService(ctx),
    oauth: new OAuthProviderService(ctx),
  };

  // Requests are validated against the same TypeBox schemas as the services use,
  // with localized, field-named messages (see domain/validation.ts).
  app.setValidatorCompiler(({ schema, httpPart }) => {
    return (value: unknown) => {
      // a copy of what came: Value.Convert may convert in place
      const raw = httpPart !== 'body' && value && typeof value === 'object' ? { ...(value as object) } : value;
      const input = httpPart === 'body' ? value : Value.Convert(schema as TSchema, value);
      // NUL and lone surrogates: PostgreSQL refuses the first, SQLite and PostgreSQL
      // mangle the second differently — no user-typed text may carry either.
      const loose = httpPart === 'body' ? [] : looseNumbers(raw, input);
      // `limit=` is not a number, and its conversion (0) is also below the minimum: said once
      const issues = [...unsafeTextIssues(input), ...loose, ...schemaIssues(schema as TSchema, input).filter((i) => !loose.some((l) => l.path === i.path))];
      return issues.length ? { error: new ValidationError(issues) } : { value: input };
    };
  });
  // Responses are plain JSON.stringify: schemas document them, services shape them.
  app.setSerializerCompiler(() => (data) => JSON.stringify(data));
  app.setErrorHandler(handleError);
  // JSON in UTF-8 only: Fastify's own parser ignored `charset=shift_jis` and turned bytes that
  // are not UTF-8 into U+FFFD, which was then stored as mojibake with a 200
  const parseJson = app.getDefaultJsonParser('error', 'error');
  const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });
  // JSON only: a text/plain body was parsed as a string and refused as 'must be an object'
  app.removeContentTypeParser('text/plain');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (req, body, done) => {
    const charset = /;\s*charset\s*=\s*"?([^";\s]+)/i.exec(req.headers['content-type'] ?? '')?.[1];
    if (charset && !/^utf-?8$/i.test(charset)) return done(new AppError('UNSUPPORTED_MEDIA_TYPE', 'validation.jsonCharset', { charset: charset.slice(0, 40) }), undefined);
    let text: string;
    try {
      text = utf8.decode(body as Buffer);
    } catch {
      return done(new AppError('MALFORMED_JSON', 'validation.jsonUtf8'), undefined);
    }
    parseJson(req, text, done);
  });
  // filled in once the static files are registered, at the end
  const web: { ui?: WebUi } = {};
  app.setNotFoundHandler((req, reply) => {
    if (web.ui?.isUiRoute(req)) return web.ui.sendIndex(reply);
    handleError(new AppError('NOT_FOUND', 'error.route', { method: req.method, url: req.url.split('?')[0] }), req, reply);
  });

  await app.register(fastifyHelmet, {
    contentSecurityPolicy: {
      directives: {
        defaultSrc: ["'self'"],
        scriptSrc: ["'self'"],
        styleSrc: ["'self'", "'unsafe-inline'"],
        imgSrc: ["'self'", 'data:'],
        // served over plain HTTP on a LAN too: upgrading the UI's own requests to https would break it
        upgradeInsecureRequests: null,
      },
    },
  });
  await app.register(fastifyRateLimit, {
    global: false,
    errorResponseBuilder: (_req, context) => new AppError('RATE_LIMITED', 'error.rateLimited', { seconds: Math.max(1, Math.ceil(context.ttl / 1000)) }),
  });
  await app.register(fastifyCookie);
  await app.register(fastifySession, {
    secret: createHmac('sha256', ctx.secretKey).update('yubin session cookie').digest('base64'),
    cookieName: SESSION_COOKIE,
    cookie: { httpOnly: true, sameSite: 'strict', secure: 'auto', path: '/', maxAge: SESSION_MAX_AGE },
    store: new DatabaseSessionStore(ctx),
    saveUninitialized: false,
  });
  await app.register(fastifyCsrf, { sessionPlugin: '@fastify/session' });

  await app.register(fastifySwagger, {
    openapi: {
      info: { title: 'Yubin API', version: '1', description: 'Mail servers, mail accounts and audit log. Errors: { error: { code, message, fields } }.' },
      components: {
        securitySchemes: {
          bearer: { type: 'http', scheme: 'bearer', description: 'yubin token create --name NAME' },
          session: { type: 'apiKey', in: 'cookie', name: SESSION_COOKIE },
        },
      },
      security: [{ bearer: [] }, { session: [] }],
    },
  });
  await app.register(fastifySwaggerUi, { routePrefix: '/api/docs' });
  app.get('/api/openapi.json', { schema: { hide: true } }, async () => app.swagger());

  await app.register(operationsRoutes(ctx));

  await app.register(authRoutes(services.auth, ctx), { prefix: '/api/auth' });
  await app.register(oauthCallbackRoute(ctx));
  // public: bulk mail's unsubscribe links
  await app.register(unsubscribeRoutes(ctx));

  await app.register(
    async (v1) => {
      v1.addHook('onRequest', requireAuth(app, ctx));
      await v1.register(mailServerRoutes(services.servers));
      await v1.register(mailAccountRoutes(services.accounts));
      await v1.register(auditLogRoutes(ctx));
      await v1.register(deliveryRoutes(ctx));
      await v1.register(bulkDeliveryRoutes(ctx));
      await v1.register(receivingRoutes(ctx));
      await v1.register(messageRoutes(ctx));
      await v1.register(oauthProviderRoutes(ctx, services.oauth));
      await v1.register(settingsRoutes(ctx));
    },
    { prefix: '/api/v1' },
  );

  // the browser UI (web/dist) at /, with its routes (including /setup?token=…) falling back to index.html
  web.ui = await registerWebUi(app);

  return app;
}

function clientError(err: Error & { code?: string; rawPacket?: unknown }, socket: Socket): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  const [status, code, key] =
    err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
      ? [408, 'REQUEST_TIMEOUT', 'error.requestTimeout']
      : err.code === 'HPE_HEADER_OVERFLOW'
        ? [431, 'HEADERS_TOO_LARGE', 'error.headersTooLarge']
        : [400, 'BAD_REQUEST', 'error.badRequest'];
  const header = /\r\naccept-language:[ \t]*([^\r\n]*)/i.exec(Buffer.isBuffer(err.rawPacket) ? err.rawPacket.toString('latin1') : '')?.[1];
  const body = JSON.stringify({ error: { code, message: t(langFromAcceptLanguage(header), key) } });
  if (socket.writable) {
    socket.write(`HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Length: ${Buffer.byteLength(body)}\r\nContent-Type: application/json; charset=utf-8\r\nConnection: close\r\n\r\n${body}`);
  }
  socket.destroy(err);
}

/**
 * Query and path numbers written as plain decimal integers only: Value.Convert read
 * `limit=1.5` as 1 and took `0x10`, `+5` and ` 5`; each is refused naming its parameter.
 */
function looseNumbers(raw: unknown, converted: unknown): FieldIssue[] {
  if (!raw || typeof raw !== 'object' || !converted || typeof converted !== 'object') return [];
  const issues: FieldIssue[] = [];
  for (const [key, value] of Object.entries(raw as Record<string, unknown>)) {
    const n = (converted as Record<string, unknown>)[key];
    if (typeof value === 'string' && typeof n === 'number' && value !== String(n)) issues.push({ path: key, key: 'validation.type.integer' });
  }
  return issues;
}
