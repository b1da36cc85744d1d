// yubin receive --account ADDRESS [--once] [--json]: receive now, run after run
// until nothing new is left (each run is capped), with a progress bar on a terminal.
import type { Command } from 'commander';
import cliProgress from 'cli-progress';
import { langFromEnv, type MessageKey } from '../../i18n/index.ts';
import { localizeReceiveErrors } from '../../receive/error-text.ts';
import { localizeSummary, receiveNow } from '../../receive/receive-service.ts';
import type { ReceiveSummary } from '../../receive/receive-run.ts';
import { MailAccountService } from '../../services/mail-accounts.ts';
import { output, say, withContext } from '../context.ts';
import { integerOption } from '../options.ts';

export function registerReceiveCommand(program: Command): void {
  program
    .command('receive')
    .description('receive an account now (repeats capped runs until nothing new is left)')
    .requiredOption('--account <address>', 'mail account (address or id)')
    .option('--once', 'a single capped run')
    .addOption(integerOption('--max-messages <n>', 'cap per run (default YUBIN_RECEIVE_MAX_MESSAGES or 2000)', { min: 1 }))
    .option('--json', 'print JSON')
    .action(async (f: { account: string; once?: boolean; maxMessages?: number; json?: boolean }) => {
      await withContext(async (ctx) => {
        const account = await new MailAccountService(ctx).find(f.account);
        const bar = process.stderr.isTTY && !f.json ? new cliProgress.SingleBar({ format: say('cli.receive.bar'), hideCursor: true }, cliProgress.Presets.shades_classic) : undefined;
        const total: ReceiveSummary = { received: 0, skippedOversize: 0, deletedFromServer: 0, remainingOnServer: 0, duplicates: 0, hasMore: false, errors: [] };
        let runs = 0;
        try {
          for (;;) {
            runs++;
            const s = await receiveNow(ctx, account.id, {
              ...(f.maxMessages !== undefined ? { maxMessages: f.maxMessages } : {}),
              onProgress: (p) => {
                if (!bar) return;
                if (p.phase === 'receiving' && p.done === 0) bar.start(p.total, 0, { phase: say('cli.receive.phase.receiving'), mb: '0.0' });
                else bar.update(p.done, { phase: say(`cli.receive.phase.${p.phase}` as MessageKey), mb: (p.bytes / 1048576).toFixed(1) });
              },
            });
            total.received += s.received;
            total.duplicates += s.duplicates;
            total.deletedFromServer += s.deletedFromServer;
            total.skippedOversize = s.skippedOversize;
            total.remainingOnServer = s.remainingOnServer;
            total.errors.push(...s.errors);
            total.hasMore = s.hasMore;
            if (f.once || !s.hasMore || s.errors.length) break;
          }
        } finally {
          bar?.stop();
        }
        // errors as the API gives them: { code, message in the user's language, detail }
        output(f.json, { ...localizeSummary(langFromEnv(), total), runs }, () =>
          [
            say('cli.receive.summary', {
              received: total.received,
              deleted: total.deletedFromServer,
              remaining: total.remainingOnServer,
              oversize: total.skippedOversize ? say('cli.receive.oversize', { count: total.skippedOversize }) : '',
              more: total.hasMore ? say('cli.receive.more') : '',
            }),
            ...localizeReceiveErrors(langFromEnv(), total.errors).map((e) => say('cli.receive.error', { code: e.code, message: e.message })),
          ].join('\n'),
        );
        if (total.errors.length) process.exitCode = 1;
      });
    });
}
