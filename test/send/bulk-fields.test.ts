// What a bulk delivery keeps of each CSV row: the merge fields its templates use, not the whole
// row. A wide spreadsheet export (hundreds of columns) is neither stored per recipient nor read
// again for every mail sent; the mail merges the same.
import { it, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { BulkDeliveryService } from '../../src/send/bulk-service.ts';
import { startSendWorker } from '../../src/send/send-worker.ts';
import { startSmtpServer } from '../protocols/smtp/smtp-test-servers.ts';
import { contextFor } from '../support/app-context.ts';
import { addSendingAccount, cleanups, waitFor } from './send-fixture.ts';

/** A database, an SMTP server and a sending account on it. */
async function setup(t: TestContext) {
  const push = cleanups(t);
  const ctx = await contextFor(t, 'sqlite');
  if (!ctx) return undefined;
  const smtp = await startSmtpServer({});
  push(() => smtp.close());
  const f = await addSendingAccount(ctx, { port: smtp.port });
  return { push, ctx, smtp, f };
}

it('each recipient keeps only the columns the templates use; the mail merges them', async (t) => {
  const s = await setup(t);
  if (!s) return;
  const { push, ctx, smtp, f } = s;
  const wide = Array.from({ length: 300 }, (_, i) => `extra${i}`);
  const csv = [
    ['email', ...wide, 'code', '氏名'].join(','),
    ['a@example.net', ...wide.map((c) => `${c}-a`), 'A-1', '山田'].join(','),
    ['b@example.net', ...wide.map((c) => `${c}-b`), 'B-2', '鈴木'].join(','),
  ].join('\n');
  const bulk = new BulkDeliveryService(ctx);
  const { id } = await bulk.create('test', { accountId: f.accountId, subject: '{{氏名}}様', text: 'お客様番号 {{code}}\n', recipientsCsv: csv });
  const rows = await ctx.db.kysely.selectFrom('deliveries').select(['fields_json']).where('bulk_id', '=', id).orderBy('row_number').execute();
  assert.deepEqual(
    rows.map((r) => JSON.parse(r.fields_json!)),
    [
      { 氏名: '山田', code: 'A-1' },
      { 氏名: '鈴木', code: 'B-2' },
    ],
  );
  const w = startSendWorker(ctx, { pollIntervalMs: 50 });
  push(() => w.stop());
  await waitFor('the bulk delivery', async () => ((await bulk.get(id)).status === 'done' ? true : undefined));
  // subject and body are base64 (Japanese text): read them back
  const decoded = new Map(
    smtp.mails.map((m) => {
      const raw = m.raw.toString('latin1');
      const subject = /^Subject: =\?UTF-8\?B\?([^?]+)\?=/m.exec(raw)![1]!;
      const body = raw.slice(raw.indexOf('\r\n\r\n') + 4);
      return [m.to[0], { subject: Buffer.from(subject, 'base64').toString('utf8'), body: Buffer.from(body, 'base64').toString('utf8') }];
    }),
  );
  assert.deepEqual(decoded.get('a@example.net'), { subject: '山田様', body: 'お客様番号 A-1\r\n' });
  assert.deepEqual(decoded.get('b@example.net'), { subject: '鈴木様', body: 'お客様番号 B-2\r\n' });
});

it('a column named like an Object member (__proto__, constructor) is a merge field like any other', async (t) => {
  const s = await setup(t);
  if (!s) return;
  const { push, ctx, smtp, f } = s;
  const csv = 'email,__proto__,constructor\na@example.net,PV,CV\n';
  const bulk = new BulkDeliveryService(ctx);
  const { id } = await bulk.create('test', { accountId: f.accountId, subject: 'code {{__proto__}}', text: '{{__proto__}} / {{constructor}}\n', recipientsCsv: csv });
  const w = startSendWorker(ctx, { pollIntervalMs: 50 });
  push(() => w.stop());
  await waitFor('the bulk delivery', async () => ((await bulk.get(id)).status === 'done' ? true : undefined));
  const raw = smtp.mails[0]!.raw.toString('latin1');
  assert.match(raw, /^Subject: code PV\r$/m);
  assert.ok(raw.includes('\r\n\r\nPV / CV\r\n'), raw);
});
