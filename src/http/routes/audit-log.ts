// /api/v1/audit-log: every change to servers, accounts, admins and tokens, newest first.
import type { FastifyPluginAsync } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import type { AppContext } from '../../services/context.ts';
import { errorResponses } from '../schemas.ts';

export const AuditEntry = Type.Object({
  id: Type.String(),
  at: Type.String(),
  actor: Type.String(),
  action: Type.String(),
  targetType: Type.String(),
  targetId: Type.Union([Type.String(), Type.Null()]),
  targetName: Type.Union([Type.String(), Type.Null()]),
  fields: Type.Array(Type.String()),
});

export function auditLogRoutes(ctx: AppContext): FastifyPluginAsync {
  return async (fastify) => {
    const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
    app.get(
      '/audit-log',
      {
        schema: {
          tags: ['audit log'],
          summary: 'Audit log, newest first',
          querystring: Type.Object(
            { limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500 })), cursor: Type.Optional(Type.String({ maxLength: 500 })) },
            { additionalProperties: false },
          ),
          response: { 200: Type.Object({ items: Type.Array(AuditEntry), nextCursor: Type.Union([Type.String(), Type.Null()]) }), ...errorResponses },
        },
      },
      async (req) => ctx.repos.audit.list({ limit: req.query.limit ?? 100, before: req.query.cursor }),
    );
  };
}
