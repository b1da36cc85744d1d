// Who is calling: a signed-in administrator (session cookie; writes need the CSRF
// token) or a script with `Authorization: Bearer <token>`. Every /api/v1 route
// goes through `requireAuth`; nothing there is reachable without it.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type * as fastifySession from '@fastify/session';
import { AppError } from '../domain/errors.ts';
import type { AppContext } from '../services/context.ts';

declare module 'fastify' {
  interface FastifyRequest {
    actor: string;
  }
  interface Session {
    adminId?: string;
    username?: string;
    _csrf?: string;
  }
}

export const SESSION_COOKIE = 'yubin_session';
export const SESSION_MAX_AGE = 12 * 60 * 60 * 1000;
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/** Sessions live in our database so that every `serve` process shares them. */
export class DatabaseSessionStore implements fastifySession.SessionStore {
  constructor(private readonly ctx: AppContext) {}

  set(sessionId: string, session: import('fastify').Session, callback: (err?: unknown) => void): void {
    const expires = session.cookie?.expires ?? new Date(Date.now() + SESSION_MAX_AGE);
    this.ctx.repos.sessions.set(sessionId, JSON.stringify(session), new Date(expires).toISOString()).then(() => callback(), callback);
  }

  get(sessionId: string, callback: (err: unknown, result?: import('fastify').Session | null) => void): void {
    this.ctx.repos.sessions.get(sessionId).then(
      (data) => callback(null, data ? JSON.parse(data) : null),
      (err) => callback(err),
    );
  }

  destroy(sessionId: string, callback: (err?: unknown) => void): void {
    this.ctx.repos.sessions.destroy(sessionId).then(() => callback(), callback);
  }
}

export function requireAuth(app: FastifyInstance, ctx: AppContext) {
  return async function (req: FastifyRequest, reply: FastifyReply): Promise<void> {
    const header = req.headers.authorization;
    if (header !== undefined) {
      const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
      const token = m ? await ctx.repos.tokens.verify(m[1]!) : undefined;
      if (!token) throw new AppError('UNAUTHENTICATED', 'error.unauthenticated');
      req.actor = `token:${token.name}`;
      return;
    }
    const adminId = req.session?.get('adminId');
    if (!adminId) throw new AppError('UNAUTHENTICATED', 'error.unauthenticated');
    const admin = await ctx.repos.admins.get(adminId);
    if (!admin) {
      await req.session.destroy();
      throw new AppError('UNAUTHENTICATED', 'error.unauthenticated');
    }
    req.actor = `admin:${admin.username}`;
    if (!SAFE_METHODS.has(req.method)) {
      await new Promise<void>((resolve, reject) => {
        app.csrfProtection.call(app, req, reply, (err?: Error) => (err ? reject(err) : resolve()));
      });
    }
  };
}
