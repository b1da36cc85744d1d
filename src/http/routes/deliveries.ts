// /api/v1/deliveries: one mail now (never held back by the per-minute limit), its status per
// recipient, and its exact bytes.
import type { FastifyPluginAsync } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { AppContext } from '../../services/context.ts';
import { DeliveryService } from '../../send/delivery-service.ts';
import { Delivery, DeliveryInput } from '../../send/schemas.ts';
import { errorResponses, IdParams } from '../schemas.ts';
import { requestLang } from '../lang.ts';

/** A mail with attachments, base64 in JSON: larger than the API's usual body limit. */
export const DELIVERY_BODY_LIMIT = 64 * 1024 * 1024;

const tags = ['deliveries'];

export function deliveryRoutes(ctx: AppContext): FastifyPluginAsync {
  const service = new DeliveryService(ctx);
  return async (fastify) => {
    const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
    app.post(
      '/deliveries',
      {
        bodyLimit: DELIVERY_BODY_LIMIT,
        schema: {
          tags,
          summary: 'Send one mail now: From is the account’s sender name and address; 413 when it is over the server’s size limit',
          body: DeliveryInput,
          response: { 201: Delivery, ...errorResponses },
        },
      },
      async (req, reply) => {
        const delivery = await service.create(req.actor, req.body);
        reply.status(201);
        return delivery;
      },
    );
    app.get('/deliveries/:id', { schema: { tags, summary: 'Status of each recipient, with the server’s code and reply', params: IdParams, response: { 200: Delivery, ...errorResponses } } }, async (req) =>
      service.get(req.params.id, requestLang(req)),
    );
    app.get('/deliveries/:id/raw', { schema: { tags, summary: 'The mail’s exact bytes (message/rfc822)', params: IdParams } }, async (req, reply) => {
      const raw = await service.raw(req.params.id);
      return reply.type('message/rfc822').send(raw);
    });
  };
}
