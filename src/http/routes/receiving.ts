// Receiving per account: run now, status (last run, notices, backlog warning),
// and the deletion log that proves each deleted mail was stored first.
import type { FastifyPluginAsync } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import { localizeSummary, receiveNow, receiveStatus, runConnectionTest } from '../../receive/receive-service.ts';
import { requestLang } from '../lang.ts';
import type { AppContext } from '../../services/context.ts';
import { MailAccountService } from '../../services/mail-accounts.ts';
import { errorResponses, IdParams } from '../schemas.ts';

const tags = ['receiving'];
export const ReceiveSummarySchema = Type.Object({
  received: Type.Integer(),
  skippedOversize: Type.Integer(),
  deletedFromServer: Type.Integer(),
  remainingOnServer: Type.Integer(),
  duplicates: Type.Integer(),
  hasMore: Type.Boolean(),
  // message: one sentence in the request's language; detail: the error's own text (a server reply, a socket or TLS error)
  errors: Type.Array(Type.Object({ code: Type.String(), message: Type.String(), detail: Type.String() })),
});

export function receivingRoutes(ctx: AppContext): FastifyPluginAsync {
  return async (fastify) => {
    const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
    app.post(
      '/mail-accounts/:id/receive',
      { schema: { tags, summary: 'One receive run now (capped; hasMore says whether to run again)', params: IdParams, response: { 200: ReceiveSummarySchema, ...errorResponses } } },
      async (req) => localizeSummary(requestLang(req), await receiveNow(ctx, req.params.id)),
    );
    app.post(
      '/mail-accounts/:id/test',
      {
        schema: {
          tags,
          summary: 'Staged connection test: DNS, TCP, TLS, greeting and capabilities, authentication, mailbox (read-only); never shows a secret',
          params: IdParams,
          response: { 200: Type.Unknown(), ...errorResponses },
        },
      },
      async (req) => runConnectionTest(ctx, req.params.id, requestLang(req)),
    );
    app.get(
      '/mail-accounts/:id/status',
      { schema: { tags, summary: 'Last run, error, oversize notices, backlog warning, mails on the server', params: IdParams, response: { 200: Type.Unknown(), ...errorResponses } } },
      async (req) => receiveStatus(ctx, req.params.id, new Date(), requestLang(req)),
    );
    app.get(
      '/mail-accounts/:id/deletions',
      {
        schema: {
          tags,
          summary: 'Deletion log: every mail Yubin deleted from the server, with the stored copy it deleted it after',
          params: IdParams,
          querystring: Type.Object({ limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 10_000 })) }, { additionalProperties: false }),
          response: { 200: Type.Unknown(), ...errorResponses },
        },
      },
      async (req) => {
        await new MailAccountService(ctx).get(req.params.id);
        return { items: await ctx.repos.messages.deletionLog(req.params.id, req.query.limit ?? 1000) };
      },
    );
  };
}
