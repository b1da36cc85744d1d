// /api/v1/bulk-deliveries (一斉配信): create from templates and a CSV, progress, per-recipient
// status, pause / resume / cancel; /api/v1/suppressions: the 配信停止 list bulk mail skips.
import type { FastifyPluginAsync } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import type { AppContext } from '../../services/context.ts';
import { BulkDeliveryService } from '../../send/bulk-service.ts';
import { BulkDelivery, BulkDeliveryCreated, BulkDeliveryInput, BulkListQuery, BulkRecipient, BulkRecipientsQuery, Suppression, SuppressionInput } from '../../send/schemas.ts';
import { SuppressionService } from '../../send/suppression-service.ts';
import { requestLang } from '../lang.ts';
import { errorResponses, IdParams } from '../schemas.ts';

/** A 100,000-row CSV fits. */
export const BULK_BODY_LIMIT = 64 * 1024 * 1024;

const tags = ['bulk deliveries'];
const NextCursor = Type.Union([Type.String(), Type.Null()]);

export function bulkDeliveryRoutes(ctx: AppContext): FastifyPluginAsync {
  const service = new BulkDeliveryService(ctx);
  const suppressions = new SuppressionService(ctx);
  return async (fastify) => {
    const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
    app.post(
      '/bulk-deliveries',
      {
        bodyLimit: BULK_BODY_LIMIT,
        schema: {
          tags,
          summary: 'Create: one mail per CSV row, {{column}} merge fields; invalid, duplicate and suppressed addresses are skipped and listed',
          body: BulkDeliveryInput,
          response: { 201: BulkDeliveryCreated, ...errorResponses },
        },
      },
      async (req, reply) => {
        const created = await service.create(req.actor, req.body, requestLang(req));
        reply.status(201);
        return created;
      },
    );
    app.get(
      '/bulk-deliveries',
      {
        schema: {
          tags,
          summary: 'Bulk deliveries, newest first, each with its progress (cursor: nextCursor of the page before)',
          querystring: BulkListQuery,
          response: { 200: Type.Object({ items: Type.Array(BulkDelivery), nextCursor: NextCursor }), ...errorResponses },
        },
      },
      async (req) => service.list(req.query, requestLang(req)),
    );
    app.get('/bulk-deliveries/:id', { schema: { tags, summary: 'Progress: total, sent, failed, pending, and the skipped rows', params: IdParams, response: { 200: BulkDelivery, ...errorResponses } } }, async (req) =>
      service.get(req.params.id, requestLang(req)),
    );
    app.get(
      '/bulk-deliveries/:id/recipients',
      {
        schema: {
          tags,
          summary: 'Per-recipient status in CSV order (cursor: the last row of the previous page)',
          params: IdParams,
          querystring: BulkRecipientsQuery,
          response: { 200: Type.Object({ items: Type.Array(BulkRecipient), nextCursor: NextCursor }), ...errorResponses },
        },
      },
      async (req) => service.recipients(req.params.id, req.query, requestLang(req)),
    );
    for (const action of ['pause', 'resume', 'cancel'] as const) {
      app.post(`/bulk-deliveries/:id/${action}`, { schema: { tags, summary: `${action[0]!.toUpperCase()}${action.slice(1)}`, params: IdParams, response: { 200: BulkDelivery, ...errorResponses } } }, async (req) =>
        service[action](req.actor, (req.params as { id: string }).id, requestLang(req)),
      );
    }

    app.get(
      '/suppressions',
      {
        schema: {
          tags,
          summary: 'The suppression list (配信停止): addresses bulk deliveries skip',
          querystring: Type.Object({ limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })), cursor: Type.Optional(Type.String({ maxLength: 300 })) }, { additionalProperties: false }),
          response: { 200: Type.Object({ items: Type.Array(Suppression), nextCursor: NextCursor }), ...errorResponses },
        },
      },
      async (req) => suppressions.list({ limit: req.query.limit, cursor: req.query.cursor }),
    );
    app.post('/suppressions', { schema: { tags, summary: 'Add addresses to the suppression list', body: SuppressionInput, response: { 200: Type.Object({ added: Type.Integer({ description: 'how many were not on the list before' }), alreadyListed: Type.Integer({ description: 'how many were on it already (each keeps its reason and date)' }) }), ...errorResponses } } }, async (req) =>
      suppressions.add(req.actor, req.body),
    );
    app.delete(
      '/suppressions/:address',
      { schema: { tags, summary: 'Remove an address from the suppression list', params: Type.Object({ address: Type.String({ maxLength: 1000 }) }), response: { 200: Type.Object({ removed: Type.Integer() }), ...errorResponses } } },
      async (req) => suppressions.remove(req.actor, [req.params.address]),
    );
  };
}
