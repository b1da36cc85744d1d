// yubin worker: the receive scheduler without HTTP, for scale-out (several
// processes on one PostgreSQL share the work through leases).
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
    .description('receive/send worker only (no HTTP)')
    .action(async () => {
      const config = loadConfig();
      const ctx = await openContext(config);
      registerProcess(config.dataDir, 'worker');
      const scheduler = startReceiveScheduler(ctx);
      const sender = startSendWorker(ctx);
      const monitor = startStallMonitor(ctx);
      ctx.log.info('worker.started');
      const stop = async (signal: string) => {
        ctx.log.info({ signal }, 'worker.stopping');
        const timer = setTimeout(() => process.exit(1), SHUTDOWN_TIMEOUT);
        timer.unref();
        await Promise.all([scheduler.stop(), sender.stop(), monitor.stop()]);
        await ctx.close();
        process.exit(0);
      };
      process.once('SIGTERM', () => void stop('SIGTERM'));
      process.once('SIGINT', () => void stop('SIGINT'));
      await new Promise(() => undefined);
    });
}
