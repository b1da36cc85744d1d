// yubin worker: the receive scheduler and the send worker without HTTP, for scale-out
// (several processes on one PostgreSQL share the work through claims and leases; see
// README "Running several workers"). SIGTERM/SIGINT: the runs in flight finish the mail
// in hand and commit, claimed deliveries not yet sent are handed back, every lease is
// released, then the process exits 0 — within SHUTDOWN_TIMEOUT, or it exits 1 anyway.
import type { Command } from 'commander';
import { loadConfig } from '../../config/env.ts';
import { startReceiveScheduler } from '../../receive/scheduler.ts';
import { registerProcess } from '../../ops/process-registry.ts';
import { startStallMonitor } from '../../ops/stall-monitor.ts';
import { startSendWorker } from '../../send/send-worker.ts';
import { openContext } from '../../services/context.ts';
import { SHUTDOWN_TIMEOUT } from './serve.ts';

export function registerWorkerCommand(program: Command): void {
  program
    .command('worker')
    .description('receive/send worker only, no HTTP (YUBIN_DATABASE_URL, YUBIN_LEASE_TTL_SECONDS, YUBIN_WORKER_POLL_SECONDS, YUBIN_WORKER_CONCURRENCY)')
    .action(async () => {
      const config = loadConfig();
      const ctx = await openContext(config, { backgroundCheckpoint: true });
      registerProcess(config.dataDir, 'worker');
      const scheduler = startReceiveScheduler(ctx);
      const sender = startSendWorker(ctx);
      const monitor = startStallMonitor(ctx);
      ctx.log.info({ pid: process.pid }, 'worker.started');
      const stop = async (signal: string) => {
        const started = Date.now();
        ctx.log.info({ signal }, 'worker.stopping');
        const timer = setTimeout(() => process.exit(1), SHUTDOWN_TIMEOUT);
        timer.unref();
        for (const r of await Promise.allSettled([scheduler.stop(), sender.stop(), monitor.stop()])) {
          if (r.status === 'rejected') ctx.log.error({ err: r.reason }, 'worker.stop_failed');
        }
        await ctx.close().catch(() => undefined);
        ctx.log.info({ signal, ms: Date.now() - started }, 'worker.stopped');
        process.exit(0);
      };
      process.once('SIGTERM', () => void stop('SIGTERM'));
      process.once('SIGINT', () => void stop('SIGINT'));
      await new Promise(() => undefined);
    });
}
