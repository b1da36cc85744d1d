// /api/auth: sign in, sign out, the current session (with its CSRF token) and
// first-run setup. These are the only API routes reachable without signing in.
import type { FastifyPluginAsync } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import { AppError } from '../../domain/errors.ts';
import type { AuthService } from '../../services/auth.ts';
import type { AppContext } from '../../services/context.ts';
import { errorResponses } from '../schemas.ts';

/** Sign-in attempts per client address and window. */
export const SIGN_IN_MAX_ATTEMPTS = 10;
export const SIGN_IN_WINDOW = '1 minute';

const Credentials = Type.Object(
  { username: Type.String({ maxLength: 1000 }), password: Type.String({ maxLength: 10_000 }) },
  { additionalProperties: false },
);
const SessionInfo = Type.Object({
  signedIn: Type.Boolean(),
  username: Type.Union([Type.String(), Type.Null()]),
  /** the administrator's UI language, remembered in the database; null until chosen */
  language: Type.Union([Type.Literal('ja'), Type.Literal('en'), Type.Null()]),
  csrfToken: Type.Union([Type.String(), Type.Null()]),
  needsSetup: Type.Boolean(),
});
const tags = ['sign-in'];

export function authRoutes(auth: AuthService, ctx: AppContext): FastifyPluginAsync {
  return async (fastify) => {
    const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
    const languageOf = async (adminId: string | undefined): Promise<'ja' | 'en' | null> => {
      if (!adminId) return null;
      const l = (await ctx.repos.admins.get(adminId))?.language;
      return l === 'ja' || l === 'en' ? l : null;
    };

    app.get('/session', { schema: { tags, summary: 'Who is signed in, and the CSRF token for writes', response: { 200: SessionInfo } } }, async (req, reply) => {
      const username = req.session.get('username') ?? null;
      return {
        signedIn: !!req.session.get('adminId'),
        username,
        language: await languageOf(req.session.get('adminId')),
        csrfToken: req.session.get('adminId') ? await reply.generateCsrf() : null,
        needsSetup: await auth.needsSetup(),
      };
    });

    app.post(
      '/sign-in',
      {
        config: { rateLimit: { max: SIGN_IN_MAX_ATTEMPTS, timeWindow: SIGN_IN_WINDOW } },
        schema: { tags, summary: 'Sign in (rate-limited)', body: Credentials, response: { 200: SessionInfo, ...errorResponses } },
      },
      async (req, reply) => {
        const admin = await auth.verifyPassword(req.body.username, req.body.password);
        if (!admin) throw new AppError('UNAUTHENTICATED', 'error.badCredentials');
        await req.session.regenerate();
        req.session.set('adminId', admin.id);
        req.session.set('username', admin.username);
        return { signedIn: true, username: admin.username, language: await languageOf(admin.id), csrfToken: await reply.generateCsrf(), needsSetup: false };
      },
    );

    app.put(
      '/language',
      {
        schema: {
          tags,
          summary: "Remember the signed-in administrator's UI language (needs the CSRF token)",
          body: Type.Object({ language: Type.Union([Type.Literal('ja'), Type.Literal('en')]) }, { additionalProperties: false }),
          response: { 204: Type.Null(), ...errorResponses },
        },
      },
      async (req, reply) => {
        const adminId = req.session.get('adminId');
        if (!adminId) throw new AppError('UNAUTHENTICATED', 'error.unauthenticated');
        await new Promise<void>((resolve, reject) => fastify.csrfProtection.call(fastify, req, reply, (err?: Error) => (err ? reject(err) : resolve())));
        await ctx.repos.admins.setLanguage(adminId, req.body.language);
        return reply.status(204).send(null);
      },
    );

    app.post('/sign-out', { schema: { tags, summary: 'Sign out (needs the CSRF token while signed in)' } }, async (req, reply) => {
      if (req.session.get('adminId')) {
        // another site must not be able to sign an administrator out
        await new Promise<void>((resolve, reject) => fastify.csrfProtection.call(fastify, req, reply, (err?: Error) => (err ? reject(err) : resolve())));
      }
      await req.session.destroy();
      reply.status(204).send();
    });

    app.post(
      '/setup',
      {
        config: { rateLimit: { max: SIGN_IN_MAX_ATTEMPTS, timeWindow: SIGN_IN_WINDOW } },
        schema: {
          tags,
          summary: 'First run: create the first administrator with the one-time token printed by `yubin serve`',
          body: Type.Object({ token: Type.String({ maxLength: 200 }), username: Type.String({ maxLength: 1000 }), password: Type.String({ maxLength: 10_000 }) }, { additionalProperties: false }),
          response: { 200: SessionInfo, ...errorResponses },
        },
      },
      async (req, reply) => {
        const id = await auth.completeSetup(req.body.token, req.body.username, req.body.password);
        await req.session.regenerate();
        req.session.set('adminId', id);
        req.session.set('username', req.body.username.trim());
        return { signedIn: true, username: req.body.username.trim(), language: null, csrfToken: await reply.generateCsrf(), needsSetup: false };
      },
    );
  };
}
