// A bulk delivery with a row whose mail is over the server's size limit must be refused
// when it is created (413), not accepted and then failed at send time.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BulkDeliveryService } from '../../src/send/bulk-service.ts';
import { composeBulkMail } from '../../src/send/compose-delivery.ts';
import { MailAccountService } from '../../src/services/mail-accounts.ts';
import { MailServerService } from '../../src/services/mail-servers.ts';
import { makeContext } from '../support/app-context.ts';
import { addSendingAccount, cleanups } from './send-fixture.ts';

test('the row with the largest mail, not the most field bytes, decides the 413', async (t) => {
  const later = cleanups(t);
  const ctx = (await makeContext('sqlite'))!;
  later(() => ctx.close());
  // a newsletter with ===== rules: 7bit as it is, tripled by quoted-printable ('=' → '=3D')
  const body = 'Dear {{name}}\n' + ('='.repeat(70) + '\n').repeat(100);
  // row a: 70 ASCII bytes (the most field bytes); row b: 3 bytes, one kanji: the body goes quoted-printable
  const ascii = 'a'.repeat(70);
  const kanji = '様';
  const f = await addSendingAccount(ctx, { port: 2525 });
  const account = await new MailAccountService(ctx).get(f.accountId);
  const sizes = await Promise.all([ascii, kanji].map(async (name) => (await composeBulkMail({ subject: 's', text: body, html: null, charset: 'utf-8' }, account, 'a@example.net', { name }, '00000000-0000-0000-0000-000000000000')).raw.length));
  assert.ok(sizes[1]! > sizes[0]!, `row b's mail is larger: ${sizes}`);
  const limit = 2 * sizes[0]!; // row a fits, row b does not
  await new MailServerService(ctx).change('test', f.serverId, { outgoing: { maxMessageBytes: limit } });
  const bulk = new BulkDeliveryService(ctx);
  await assert.rejects(
    bulk.create('test', { accountId: f.accountId, subject: 's', text: body, recipientsCsv: `email,name\na@example.net,${ascii}\nb@example.net,${kanji}\n` }),
    (err: Error & { code?: string }) => err.code === 'PAYLOAD_TOO_LARGE',
    `created although row b's mail (${sizes[1]} bytes) is over the limit of ${limit} (row a's: ${sizes[0]})`,
  );
});
