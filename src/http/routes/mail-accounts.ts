// /api/v1/mail-accounts: list, add, show, change, delete. Passwords are write-only.
import type { FastifyPluginAsync } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import { MailAccount, MailAccountInput, MailAccountPatch } from '../../domain/mail-account.ts';
import type { MailAccountService } from '../../services/mail-accounts.ts';
import { errorResponses, IdParams } from '../schemas.ts';

const tags = ['mail accounts'];

export function mailAccountRoutes(service: MailAccountService): FastifyPluginAsync {
  return async (fastify) => {
    const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
    app.get('/mail-accounts', { schema: { tags, summary: 'List', response: { 200: Type.Object({ items: Type.Array(MailAccount) }), ...errorResponses } } }, async () => ({
      items: await service.list(),
    }));
    app.post('/mail-accounts', { schema: { tags, summary: 'Add', body: MailAccountInput, response: { 201: MailAccount, ...errorResponses } } }, async (req, reply) => {
      reply.status(201);
      return service.add(req.actor, req.body);
    });
    app.get('/mail-accounts/:id', { schema: { tags, summary: 'Show', params: IdParams, response: { 200: MailAccount, ...errorResponses } } }, async (req) => service.get(req.params.id));
    app.patch('/mail-accounts/:id', { schema: { tags, summary: 'Change (a password is kept unless given)', params: IdParams, body: MailAccountPatch, response: { 200: MailAccount, ...errorResponses } } }, async (req) =>
      service.change(req.actor, req.params.id, req.body),
    );
    app.delete('/mail-accounts/:id', { schema: { tags, summary: 'Delete', params: IdParams, response: { 204: Type.Null(), ...errorResponses } } }, async (req, reply) => {
      await service.delete(req.actor, req.params.id);
      return reply.status(204).send(null);
    });
  };
}
