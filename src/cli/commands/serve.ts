// yubin serve: web UI + API + the receive scheduler + the send worker in one process.
import type { Command } from 'commander';
import { loadConfig } from '../../config/env.ts';
import { AppError } from '../../domain/errors.ts';
import { buildApp } from '../../http/app.ts';
import { AuthService } from '../../services/auth.ts';
import { openContext } from '../../services/context.ts';
import { startReceiveScheduler } from '../../receive/scheduler.ts';
import { registerProcess } from '../../ops/process-registry.ts';
import { startStallMonitor } from '../../ops/stall-monitor.ts';
import { startSendWorker } from '../../send/send-worker.ts';
import { say } from '../context.ts';

/** How often expired sessions are deleted. */
export const SESSION_PURGE_INTERVAL = 60 * 60_000;

/** How long a SIGTERM waits for requests in flight before exiting anyway. */
export const SHUTDOWN_TIMEOUT = 10_000;

export function registerServeCommand(program: Command): void {
  program
    .command('serve')
    .description('web UI + API in one process (HOST, PORT, YUBIN_DATA_DIR, YUBIN_DATABASE_URL)')
    .action(async () => {
      const config = loadConfig();
      const ctx = await openContext(config, { backgroundCheckpoint: true });
      const unregister = registerProcess(config.dataDir, 'serve');
      const app = await buildApp(ctx, { logger: { level: config.logLevel ?? 'info' } });
      try {
        await app.listen({ host: config.host, port: config.port });
      } catch (err) {
        // a busy port or a host that is not this machine's: say so and exit (before, the open
        // database kept the process alive, registered as "serve", so restore was refused)
        await app.close();
        await ctx.close();
        unregister();
        const e = err as NodeJS.ErrnoException;
        throw new AppError('CONFLICT', e.code === 'EADDRINUSE' ? 'serve.portInUse' : 'serve.listenFailed', { host: config.host, port: config.port, reason: e.code ?? e.message });
      }
      const scheduler = startReceiveScheduler(ctx);
      const sender = startSendWorker(ctx);
      const monitor = startStallMonitor(ctx);
      // expired sessions are refused on read; this only keeps the table small
      const purge = setInterval(() => ctx.repos.sessions.purgeExpired().catch((err) => ctx.log.warn({ err }, 'sessions.purge_failed')), SESSION_PURGE_INTERVAL);
      purge.unref();
      const base = `http://${config.host.includes(':') ? `[${config.host}]` : config.host}:${config.port}`;
      const auth = new AuthService(ctx);
      if (await auth.needsSetup()) {
        const token = await auth.issueSetupToken();
        process.stdout.write(`\n${say('cli.serve.setup', { url: `${base}/setup?token=${token}` })}\n\n`);
      } else {
        process.stdout.write(`${say('cli.serve.running', { url: base })}\n`);
      }
      const stop = async (signal: string) => {
        ctx.log.info({ signal }, 'serve.stopping');
        const timer = setTimeout(() => process.exit(1), SHUTDOWN_TIMEOUT);
        timer.unref();
        await app.close();
        clearInterval(purge);
        await Promise.all([scheduler.stop(), sender.stop(), monitor.stop()]);
        await ctx.close();
        process.exit(0);
      };
      process.once('SIGTERM', () => void stop('SIGTERM'));
      process.once('SIGINT', () => void stop('SIGINT'));
    });
}
