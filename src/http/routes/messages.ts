// Received mail: list (newest first, search by subject/sender), one mail decoded,
// and the exact stored bytes.
import { Readable } from 'node:stream';
import type { FastifyPluginAsync } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import { notFound } from '../../domain/errors.ts';
import { decodeMessage } from '../../mail/decode-body.ts';
import type { AppContext } from '../../services/context.ts';
import { errorResponses, IdParams } from '../schemas.ts';

const tags = ['messages'];

export function messageRoutes(ctx: AppContext): FastifyPluginAsync {
  return async (fastify) => {
    const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
    app.get(
      '/messages',
      {
        schema: {
          tags,
          summary: 'Received mail, newest first',
          querystring: Type.Object(
            {
              accountId: Type.Optional(Type.String({ maxLength: 200 })),
              q: Type.Optional(Type.String({ maxLength: 500 })),
              limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500 })),
              cursor: Type.Optional(Type.String({ maxLength: 500 })),
            },
            { additionalProperties: false },
          ),
          response: { 200: Type.Unknown(), ...errorResponses },
        },
      },
      async (req) => ctx.repos.messages.list({ accountId: req.query.accountId, q: req.query.q, limit: req.query.limit ?? 50, cursor: req.query.cursor }),
    );
    app.get('/messages/:id', { schema: { tags, summary: 'One mail: metadata and decoded bodies', params: IdParams, response: { 200: Type.Unknown(), ...errorResponses } } }, async (req) => {
      const meta = await ctx.repos.messages.get(req.params.id);
      if (!meta) throw notFound('what.message');
      const decoded = await decodeMessage(await ctx.repos.messages.rawBuffer(req.params.id));
      return { ...meta, decoded };
    });
    app.get('/messages/:id/raw', { schema: { tags, summary: 'The exact stored bytes (message/rfc822)', params: IdParams } }, async (req, reply) => {
      const meta = await ctx.repos.messages.get(req.params.id);
      if (!meta) throw notFound('what.message');
      reply.header('content-type', 'message/rfc822');
      reply.header('content-length', String(meta.size));
      reply.header('content-disposition', `attachment; filename="${meta.id}.eml"`);
      return reply.send(Readable.from(ctx.repos.messages.raw(req.params.id)));
    });
  };
}
