// /api/v1/mail-servers: list, add, show, change, reorder, delete (PRODUCT.md §3).
import type { FastifyPluginAsync } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import { MailServer, MailServerInput, MailServerPatch } from '../../domain/mail-server.ts';
import type { MailServerService } from '../../services/mail-servers.ts';
import { ReorderInput } from '../../services/mail-servers.ts';
import { errorResponses, IdParams } from '../schemas.ts';

const List = Type.Object({ items: Type.Array(MailServer) });
const tags = ['mail servers'];

export function mailServerRoutes(service: MailServerService): FastifyPluginAsync {
  return async (fastify) => {
    const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
    app.get('/mail-servers', { schema: { tags, summary: 'List: Gmail, Exchange Online, then the others in order', response: { 200: List, ...errorResponses } } }, async () => ({
      items: await service.list(),
    }));
    app.post('/mail-servers', { schema: { tags, summary: 'Add (追加する)', body: MailServerInput, response: { 201: MailServer, ...errorResponses } } }, async (req, reply) => {
      reply.status(201);
      return service.add(req.actor, req.body);
    });
    app.put('/mail-servers/order', { schema: { tags, summary: 'Reorder (順番変更): every non-preset id, in the new order', body: ReorderInput, response: { 200: List, ...errorResponses } } }, async (req) => ({
      items: await service.reorder(req.actor, req.body),
    }));
    app.get('/mail-servers/:id', { schema: { tags, summary: 'Show', params: IdParams, response: { 200: MailServer, ...errorResponses } } }, async (req) => service.get(req.params.id));
    app.patch('/mail-servers/:id', { schema: { tags, summary: 'Change (変更する)', params: IdParams, body: MailServerPatch, response: { 200: MailServer, ...errorResponses } } }, async (req) =>
      service.change(req.actor, req.params.id, req.body),
    );
    app.delete('/mail-servers/:id', { schema: { tags, summary: 'Delete (削除する); 409 for a preset or a server in use', params: IdParams, response: { 204: Type.Null(), ...errorResponses } } }, async (req, reply) => {
      await service.delete(req.actor, req.params.id);
      return reply.status(204).send(null);
    });
  };
}
