// Received mail: list (newest first, search by subject/sender), one mail decoded,
// and the exact stored bytes.
import { Readable } from 'node:stream';
import type { FastifyPluginAsync } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import { notFound } from '../../domain/errors.ts';
import { decodeAttachment, decodeMessage } from '../../mail/decode-body.ts';
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
    app.get(
      '/messages/:id/attachments/:index',
      {
        schema: {
          tags,
          summary: 'One attachment, decoded, as a download (index as in GET /messages/:id decoded.attachments)',
          params: Type.Object({ id: Type.String({ maxLength: 200 }), index: Type.Integer({ minimum: 0, maximum: 100_000 }) }),
        },
      },
      async (req, reply) => {
        const meta = await ctx.repos.messages.get(req.params.id);
        if (!meta) throw notFound('what.message');
        const a = await decodeAttachment(await ctx.repos.messages.rawBuffer(req.params.id), req.params.index);
        if (!a) throw notFound('what.attachment');
        const name = a.filename ?? `attachment-${req.params.index}`;
        // always a download, never rendered on our origin (an HTML attachment must not run here)
        reply.header('content-type', a.contentType || 'application/octet-stream');
        reply.header('content-disposition', `attachment; filename="${name.replace(/[^\x20-\x7e]|["\\]/g, '_')}"; filename*=UTF-8''${encodeURIComponent(name)}`);
        reply.header('x-content-type-options', 'nosniff');
        return reply.send(a.content);
      },
    );
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
