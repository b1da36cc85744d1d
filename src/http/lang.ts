import type { FastifyRequest } from 'fastify';
import { langFromAcceptLanguage, type Lang } from '../i18n/index.ts';

export function requestLang(req: FastifyRequest): Lang {
  return langFromAcceptLanguage(req.headers['accept-language']);
}
