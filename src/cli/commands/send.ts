// yubin send: one mail now, through the same service as POST /api/v1/deliveries, sent from
// this process at once (or by whichever worker claims it first), never held back by the
// per-minute limit. Exit code 1 when a recipient failed.
import { basename, extname } from 'node:path';
import type { Command } from 'commander';
import { langFromEnv } from '../../i18n/index.ts';
import { DeliveryService } from '../../send/delivery-service.ts';
import type { Delivery } from '../../send/schemas.ts';
import { sendDeliveryNow } from '../../send/send-worker.ts';
import { cliActor, codeWord, output, say, withContext } from '../context.ts';
import { readFileOption, readJsonOption, readTextOption, refuseSharedStdin } from '../file-input.ts';

interface SendFlags {
  account?: string;
  to: string[];
  cc: string[];
  bcc: string[];
  subject?: string;
  text?: string;
  textFile?: string;
  htmlFile?: string;
  attach: string[];
  charset?: string;
  replyTo?: string;
  inReplyTo?: string;
  references: string[];
  input?: string;
  wait: boolean;
  json?: boolean;
}

const CONTENT_TYPES: Record<string, string> = {
  '.pdf': 'application/pdf',
  '.txt': 'text/plain',
  '.csv': 'text/csv',
  '.html': 'text/html',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.gif': 'image/gif',
  '.zip': 'application/zip',
  '.xlsx': 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet',
  '.docx': 'application/vnd.openxmlformats-officedocument.wordprocessingml.document',
};

const collect = (value: string, list: string[]): string[] => [...list, value];

export function describeDelivery(d: Delivery): string {
  const lines = [say('cli.send.title', { id: d.id, status: codeWord('cli.status', d.status), subject: d.subject ?? '' })];
  for (const r of d.recipients) {
    const detail = [r.code, r.reply ?? r.error?.message].filter((x) => x !== null && x !== undefined).join(' ');
    const when = r.status === 'deferred' && r.nextAttemptAt ? say('cli.send.nextAttempt', { time: r.nextAttemptAt }) : '';
    lines.push(`  ${r.kind.padEnd(3)} ${r.address}  ${codeWord('cli.status', r.status)}${when}${detail ? `  ${detail}` : ''}`);
  }
  return lines.join('\n');
}

export function registerSendCommand(program: Command): void {
  program
    .command('send')
    .description('send one mail now (never throttled)')
    .option('--account <account>', 'sending mail account (address or id)')
    .option('--to <address>', 'To (repeatable)', collect, [])
    .option('--cc <address>', 'Cc (repeatable)', collect, [])
    .option('--bcc <address>', 'Bcc (repeatable)', collect, [])
    .option('--subject <subject>', '件名')
    .option('--text <text>', '本文')
    .option('--text-file <file>', '本文 from a UTF-8 or Shift_JIS file (- for stdin)')
    .option('--html-file <file>', 'HTML本文 from a UTF-8 or Shift_JIS file (- for stdin)')
    .option('--attach <file>', 'attachment (repeatable)', collect, [])
    .option('--charset <charset>', 'utf-8 (default) or iso-2022-jp')
    .option('--reply-to <address>', 'Reply-To: where replies should go')
    .option('--in-reply-to <message-id>', 'In-Reply-To: the Message-ID of the mail this one answers')
    .option('--references <message-ids>', 'References: Message-IDs of the thread, oldest first (space-separated, repeatable)', collect, [])
    .option('--input <file>', 'JSON DeliveryInput (- for stdin); flags override it')
    .option('--no-wait', 'queue only: a running `yubin serve` or `yubin worker` sends it')
    .option('--json', 'print JSON')
    .action(async (f: SendFlags) => {
      // every file is read before the database is opened: a bad one stops here
      refuseSharedStdin([
        ['--input -', f.input === '-'],
        ['--text-file -', f.textFile === '-'],
        ['--html-file -', f.htmlFile === '-'],
      ]);
      const body = f.input ? readJsonOption('--input', f.input) : {};
      if (f.account !== undefined) body.accountId = f.account;
      if (f.to.length) body.to = f.to;
      if (f.cc.length) body.cc = f.cc;
      if (f.bcc.length) body.bcc = f.bcc;
      body.to ??= [];
      if (f.subject !== undefined) body.subject = f.subject;
      if (f.text !== undefined) body.text = f.text;
      if (f.textFile !== undefined) body.text = readTextOption('--text-file', f.textFile);
      if (f.htmlFile !== undefined) body.html = readTextOption('--html-file', f.htmlFile);
      if (f.charset !== undefined) body.charset = f.charset;
      if (f.replyTo !== undefined) body.replyTo = f.replyTo;
      if (f.inReplyTo !== undefined) body.inReplyTo = f.inReplyTo;
      // a References header copied whole ("<a@x> <b@y>") is its Message-IDs: none holds a space
      if (f.references.length) body.references = f.references.flatMap((r) => r.split(/\s+/).filter(Boolean));
      if (f.attach.length) {
        body.attachments = f.attach.map((file) => ({
          filename: basename(file),
          contentType: CONTENT_TYPES[extname(file).toLowerCase()] ?? 'application/octet-stream',
          // "-" is a file of that name here: an attachment needs a name, stdin has none
          contentBase64: readFileOption('--attach', file, { stdin: false }).toString('base64'),
        }));
      }
      await withContext(async (ctx) => {
        const service = new DeliveryService(ctx);
        let d = await service.create(cliActor(), body);
        if (f.wait) {
          await sendDeliveryNow(ctx, d.id);
          d = await service.get(d.id, langFromEnv());
        }
        output(f.json, d, () => describeDelivery(d) + (d.status === 'deferred' ? `\n${say('cli.send.retried')}` : ''));
        // any recipient failed: 1, even while another is deferred (the mail's status says deferred then)
        if (d.recipients.some((r) => r.status === 'failed')) process.exitCode = 1;
      });
    });
}
