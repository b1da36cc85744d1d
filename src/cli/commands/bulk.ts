// yubin bulk create|status|recipients|pause|resume|cancel, and the suppression list
// (suppress, unsuppress, suppressions) — the same services as /api/v1/bulk-deliveries.
// `status` draws a progress bar; `--watch` (and `create --wait`) redraw it until the end.
import type { Command } from 'commander';
import cliProgress from 'cli-progress';
import { langFromEnv, type Lang } from '../../i18n/index.ts';
import { BulkDeliveryService } from '../../send/bulk-service.ts';
import { RecipientStatus, type BulkDelivery, type SkippedRow } from '../../send/schemas.ts';
import { SuppressionService } from '../../send/suppression-service.ts';
import type { AppContext } from '../../services/context.ts';
import { cliActor, codeWord, output, say, table, withContext } from '../context.ts';
import { readFileOption, readTextOption, refuseSharedStdin } from '../file-input.ts';
import { choiceOption, integerOption } from '../options.ts';

/** How often --watch reads the progress. */
export const WATCH_INTERVAL_MS = 500;
const BAR_WIDTH = 30;
/** A page of recipients or suppressions, as the API allows. */
const PAGE_LIMIT = { min: 1, max: 1000 };
/** --cursor of recipients is a CSV row number (the service takes up to 9 digits). */
const ROW_CURSOR = { min: 0, max: 999_999_999 };
const RECIPIENT_STATUSES = RecipientStatus.anyOf.map((s) => s.const);
type RecipientStatusName = (typeof RECIPIENT_STATUSES)[number];

interface CreateFlags {
  account: string;
  csv: string;
  subject: string;
  text?: string;
  textFile?: string;
  htmlFile?: string;
  charset?: string;
  replyTo?: string;
  addressColumn?: string;
  wait?: boolean;
  json?: boolean;
}

/** "sent 6  failed 0  pending 4 / 10  running" (送信済み 6  失敗 0  未送信 4 / 10  配信中 (running)) */
function countsLine(b: BulkDelivery, lang: Lang): string {
  return say('cli.bulk.progress', { sent: b.sent, failed: b.failed, pending: b.pending, total: b.total, status: codeWord('cli.bulkStatus', b.status, lang) }, lang);
}

/** "[██████░░░░]  60%  sent 6  failed 0  pending 4 / 10  running"; in Japanese with `lang` 'ja' (the CLI passes the user's). */
export function progressLine(b: BulkDelivery, lang: Lang = 'en'): string {
  const done = b.sent + b.failed + b.cancelled;
  const ratio = b.total > 0 ? done / b.total : 1;
  const filled = Math.round(ratio * BAR_WIDTH);
  const bar = '█'.repeat(filled) + '░'.repeat(BAR_WIDTH - filled);
  const extra = [
    b.cancelled ? say('cli.bulk.cancelledCount', { count: b.cancelled }, lang) : '',
    b.pauseReason ? say('cli.bulk.pauseReason', { reason: codeWord('cli.pauseReason', b.pauseReason, lang) }, lang) : '',
  ]
    .filter(Boolean)
    .join('  ');
  return `[${bar}] ${String(Math.floor(ratio * 100)).padStart(3)}%  ${countsLine(b, lang)}${extra ? '  ' + extra : ''}`;
}

function skippedText(skipped: SkippedRow[]): string[] {
  return skipped.map((s) => say('cli.bulk.skippedRow', { row: s.row, address: s.address || say('cli.bulk.emptyAddress'), message: s.message }));
}

/** Under a page of a list: how to ask for the next one, when there is more. */
function moreLine(cursor: string | null): string {
  return cursor ? `\n${say('cli.more', { cursor })}` : '';
}

function describeBulk(b: BulkDelivery): string {
  return [
    say('cli.bulk.title', { id: b.id, subject: b.subject }),
    ...(b.replyTo ? [say('cli.bulk.replyTo', { address: b.replyTo })] : []),
    progressLine(b, langFromEnv()),
    ...(b.accountError ? [say('cli.bulk.accountError', { code: b.accountError.code, message: b.accountError.message, at: b.accountError.at })] : []),
    ...(b.pauseError && !b.accountError ? [b.pauseError.message] : []),
    ...(b.skipped.length ? [say('cli.bulk.skipped', { count: b.skipped.length }), ...skippedText(b.skipped)] : []),
  ].join('\n');
}

const FINAL = new Set(['done', 'cancelled']);
/** How often progress is written as a line when stderr is not a terminal. */
const LINE_INTERVAL_MS = 10_000;

/** Redraw the progress until the bulk delivery is done or cancelled (or paused, with `untilPaused`). */
async function watch(ctx: AppContext, id: string, untilPaused: boolean): Promise<BulkDelivery> {
  const service = new BulkDeliveryService(ctx);
  const lang = langFromEnv();
  let b = await service.get(id, lang);
  // the catalogue's line without values keeps its {sent} … {status}: cli-progress fills them
  const bar = process.stderr.isTTY ? new cliProgress.SingleBar({ format: `[{bar}] {percentage}%  ${say('cli.bulk.progress', {}, lang)}`, hideCursor: true }, cliProgress.Presets.shades_classic) : undefined;
  bar?.start(b.total, 0, {});
  // off a terminal (a log, a pipe): a line when the counts change, at most every LINE_INTERVAL_MS
  let lastLine = '';
  let lastLineAt = 0;
  try {
    for (;;) {
      bar?.update(b.sent + b.failed + b.cancelled, { sent: b.sent, failed: b.failed, pending: b.pending, status: codeWord('cli.bulkStatus', b.status, lang) });
      if (!bar) {
        const line = countsLine(b, lang);
        const final = FINAL.has(b.status) || (untilPaused && b.status === 'paused');
        if (line !== lastLine && (final || Date.now() - lastLineAt >= LINE_INTERVAL_MS)) {
          process.stderr.write(`${line}\n`);
          [lastLine, lastLineAt] = [line, Date.now()];
        }
      }
      if (FINAL.has(b.status) || (untilPaused && b.status === 'paused')) return b;
      await new Promise((r) => setTimeout(r, WATCH_INTERVAL_MS));
      b = await service.get(id, lang);
    }
  } finally {
    bar?.stop();
  }
}

export function registerBulkCommands(program: Command): Command {
  const bulk = program.command('bulk').description('一斉配信: create, status, recipients, pause, resume, cancel; suppression list');

  bulk
    .command('create')
    .description('queue one mail per CSV row ({{column}} merge fields in subject and body)')
    .requiredOption('--account <account>', 'sending mail account (address or id)')
    .requiredOption('--csv <file>', 'recipients CSV with a header row (UTF-8, UTF-8 with BOM, Shift_JIS)')
    .requiredOption('--subject <template>', '件名 (template)')
    .option('--text <template>', '本文 (template)')
    .option('--text-file <file>', '本文 template from a UTF-8 or Shift_JIS file (- for stdin)')
    .option('--html-file <file>', 'HTML本文 template from a UTF-8 or Shift_JIS file (- for stdin)')
    .option('--charset <charset>', 'utf-8 (default) or iso-2022-jp')
    .option('--reply-to <address>', 'Reply-To of every mail: where replies should go')
    .option('--address-column <name>', 'the CSV column with the address (default: email / メールアドレス …)')
    .option('--wait', 'send from this process too, and show progress until done')
    .option('--json', 'print JSON')
    .action(async (f: CreateFlags) => {
      // every file is read before the database is opened: a bad one stops here
      refuseSharedStdin([
        ['--csv -', f.csv === '-'],
        ['--text-file -', f.textFile === '-'],
        ['--html-file -', f.htmlFile === '-'],
      ]);
      const body: Record<string, unknown> = {
        accountId: f.account,
        subject: f.subject,
        // the bytes, from a file or stdin alike: the service tells UTF-8 from Shift_JIS
        recipientsCsvBase64: readFileOption('--csv', f.csv).toString('base64'),
      };
      if (f.text !== undefined) body.text = f.text;
      if (f.textFile !== undefined) body.text = readTextOption('--text-file', f.textFile);
      if (f.htmlFile !== undefined) body.html = readTextOption('--html-file', f.htmlFile);
      if (f.charset !== undefined) body.charset = f.charset;
      if (f.replyTo !== undefined) body.replyTo = f.replyTo;
      if (f.addressColumn !== undefined) body.addressColumn = f.addressColumn;
      await withContext(async (ctx) => {
        const service = new BulkDeliveryService(ctx);
        const created = await service.create(cliActor(), body, langFromEnv());
        if (!f.wait) {
          // the Reply-To as stored (normalized), and whether the mails carry unsubscribe links
          const replyTo = f.replyTo !== undefined && !f.json ? (await service.get(created.id)).replyTo : null;
          output(f.json, created, () =>
            [
              say('cli.bulk.created', { id: created.id, total: created.total }),
              ...(replyTo ? [say('cli.bulk.replyTo', { address: replyTo })] : []),
              ...(ctx.config.unsubscribeUrl ? [say('cli.bulk.unsubscribeLinks', { url: ctx.config.unsubscribeUrl })] : []),
              ...(created.skipped.length ? [say('cli.bulk.skipped', { count: created.skipped.length }), ...skippedText(created.skipped)] : []),
            ].join('\n'),
          );
          return;
        }
        const { startSendWorker } = await import('../../send/send-worker.ts'); // nodemailer only when sending here
        const worker = startSendWorker(ctx);
        let b: BulkDelivery;
        try {
          b = await watch(ctx, created.id, true);
        } finally {
          await worker.stop();
        }
        output(f.json, { ...created, progress: b }, () => describeBulk(b));
        if (b.failed > 0 || b.status === 'paused') process.exitCode = 1;
      });
    });

  bulk
    .command('status <id>')
    .description('progress: total, sent, failed, pending')
    .option('--watch', 'redraw until done or cancelled')
    .option('--json', 'print JSON')
    .action(async (id: string, f: { watch?: boolean; json?: boolean }) => {
      await withContext(async (ctx) => {
        const b = f.watch ? await watch(ctx, id, false) : await new BulkDeliveryService(ctx).get(id, langFromEnv());
        output(f.json, b, () => describeBulk(b));
      });
    });

  bulk
    .command('list')
    .description('bulk deliveries, newest first, with their progress')
    .addOption(integerOption('--limit <n>', 'at most this many (default 20)', { min: 1, max: 100 }))
    .option('--cursor <cursor>', 'the page after the one that printed it')
    .option('--json', 'print JSON')
    .action(async (f: { limit?: number; cursor?: string; json?: boolean }) => {
      await withContext(async (ctx) => {
        const lang = langFromEnv();
        const page = await new BulkDeliveryService(ctx).list({ limit: f.limit, cursor: f.cursor }, lang);
        output(f.json, page, () =>
          page.items.length === 0
            ? say('cli.bulk.none')
            : table([
                [say('cli.bulk.col.id'), say('cli.bulk.col.created'), say('cli.col.status'), say('cli.bulk.col.progress'), say('cli.bulk.col.subject')],
                ...page.items.map((b) => [b.id, b.createdAt, codeWord('cli.bulkStatus', b.status, lang), `${b.sent} / ${b.total}`, b.subject]),
              ]) + moreLine(page.nextCursor),
        );
      });
    });

  bulk
    .command('recipients <id>')
    .description('per-recipient status in CSV order')
    .addOption(choiceOption('--status <status>', `only ${RECIPIENT_STATUSES.join(' | ')}`, RECIPIENT_STATUSES))
    .addOption(integerOption('--limit <n>', 'at most this many (default 100)', PAGE_LIMIT))
    .addOption(integerOption('--cursor <row>', 'after this CSV row', ROW_CURSOR))
    .option('--json', 'print JSON')
    .action(async (id: string, f: { status?: RecipientStatusName; limit?: number; cursor?: number; json?: boolean }) => {
      await withContext(async (ctx) => {
        const query = { status: f.status, limit: f.limit, cursor: f.cursor === undefined ? undefined : String(f.cursor) };
        const page = await new BulkDeliveryService(ctx).recipients(id, query, langFromEnv());
        output(f.json, page, () =>
          table([
            [say('cli.bulk.col.row'), say('cli.col.address'), say('cli.col.status'), say('cli.bulk.col.attempts'), say('cli.bulk.col.code'), say('cli.bulk.col.reply')],
            ...page.items.map((r) => [String(r.row), r.address, codeWord('cli.status', r.status), String(r.attempts), r.code === null ? '' : String(r.code), (r.reply ?? r.error?.message ?? '').replace(/\s+/g, ' ')]),
          ]) + moreLine(page.nextCursor),
        );
      });
    });

  for (const action of ['pause', 'resume', 'cancel'] as const) {
    bulk
      .command(`${action} <id>`)
      .option('--json', 'print JSON')
      .action(async (id: string, f: { json?: boolean }) => {
        await withContext(async (ctx) => {
          const b = await new BulkDeliveryService(ctx)[action](cliActor(), id, langFromEnv());
          output(f.json, b, () => describeBulk(b));
        });
      });
  }

  bulk
    .command('suppress <addresses...>')
    .description('add to the suppression list (配信停止): bulk deliveries skip these addresses')
    .option('--reason <reason>', 'why')
    .option('--json', 'print JSON')
    .action(async (addresses: string[], f: { reason?: string; json?: boolean }) => {
      await withContext(async (ctx) => {
        const r = await new SuppressionService(ctx).add(cliActor(), { addresses, reason: f.reason ?? null });
        output(f.json, r, () => say('cli.bulk.suppressed', { count: r.added }));
      });
    });

  bulk
    .command('unsuppress <addresses...>')
    .description('remove from the suppression list')
    .option('--json', 'print JSON')
    .action(async (addresses: string[], f: { json?: boolean }) => {
      await withContext(async (ctx) => {
        const r = await new SuppressionService(ctx).remove(cliActor(), addresses);
        output(f.json, r, () => say('cli.bulk.unsuppressed', { count: r.removed }));
      });
    });

  bulk
    .command('suppressions')
    .description('list the suppression list')
    .addOption(integerOption('--limit <n>', 'at most this many (default 100)', PAGE_LIMIT))
    .option('--cursor <address>', 'after this address')
    .option('--json', 'print JSON')
    .action(async (f: { limit?: number; cursor?: string; json?: boolean }) => {
      await withContext(async (ctx) => {
        const page = await new SuppressionService(ctx).list({ limit: f.limit, cursor: f.cursor });
        output(
          f.json,
          page,
          () =>
            table([[say('cli.col.address'), say('cli.col.reason'), say('cli.bulk.col.by'), say('cli.col.at')], ...page.items.map((s) => [s.address, s.reason ?? '', s.createdBy, s.createdAt])]) +
            moreLine(page.nextCursor),
        );
      });
    });
  return bulk;
}
