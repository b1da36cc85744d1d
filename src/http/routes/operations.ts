// Probes and metrics for operators, outside /api/v1 and its sign-in:
//   GET /healthz  the process is up (no database: a load balancer's liveness check)
//   GET /readyz   the database answers and no migration is pending (503 otherwise)
//   GET /metrics  Prometheus text format (src/ops/metrics.ts). With YUBIN_METRICS_TOKEN
//                 set it needs `Authorization: Bearer <token>`; without it only clients on
//                 the loopback interface may read it, since the labels name every account.
import { timingSafeEqual, createHash } from 'node:crypto';
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import { AppError } from '../../domain/errors.ts';
import { renderMetrics } from '../../ops/metrics.ts';
import type { AppContext } from '../../services/context.ts';
import { pendingMigrations } from '../../store/migrate.ts';

const LOOPBACK = new Set(['127.0.0.1', '::1', '::ffff:127.0.0.1']);

function sameToken(a: string, b: string): boolean {
  const h = (s: string) => createHash('sha256').update(s).digest();
  return timingSafeEqual(h(a), h(b));
}

function metricsAllowed(ctx: AppContext, req: FastifyRequest): boolean {
  const token = ctx.config.metricsToken;
  if (token === undefined) return LOOPBACK.has(req.socket.remoteAddress ?? '');
  const header = req.headers.authorization ?? '';
  return header.startsWith('Bearer ') && sameToken(header.slice(7).trim(), token);
}

export function operationsRoutes(ctx: AppContext): FastifyPluginAsync {
  return async (app) => {
    app.get('/healthz', { schema: { hide: true } }, async () => ({ status: 'ok' }));

    app.get('/readyz', { schema: { hide: true } }, async (req, reply) => {
      let pending: string[];
      try {
        pending = await pendingMigrations(ctx.db);
      } catch (err) {
        req.log.warn({ err }, 'readyz.database_unreachable');
        return reply.status(503).send({ status: 'database unreachable' });
      }
      if (pending.length) return reply.status(503).send({ status: 'migrations pending', pending });
      return { status: 'ready' };
    });

    app.get('/metrics', { schema: { hide: true } }, async (req, reply) => {
      if (!metricsAllowed(ctx, req)) throw new AppError('UNAUTHENTICATED', 'error.metrics');
      reply.header('content-type', 'text/plain; version=0.0.4; charset=utf-8');
      return renderMetrics(ctx);
    });
  };
}
