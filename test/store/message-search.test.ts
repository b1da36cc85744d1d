// Searching received mail (GET /api/v1/messages?q=…) finds the text as typed: %, _ and \ are
// characters, not LIKE wildcards, on both engines.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { extractMetadata } from '../../src/mail/metadata.ts';
import { MailAccountService } from '../../src/services/mail-accounts.ts';
import { MailServerService } from '../../src/services/mail-servers.ts';
import { contextFor, ENGINES } from '../support/app-context.ts';

for (const engine of ENGINES) {
  test(`${engine}: a search for %, _ or \\ matches those characters only`, async (t) => {
    const ctx = await contextFor(t, engine);
    if (!ctx) return;
    const server = await new MailServerService(ctx).add('t', { name: 's', incoming: { protocol: 'pop3', host: 'pop.example.com' }, outgoing: { host: 'smtp.example.com' } });
    const acc = await new MailAccountService(ctx).add('t', { displayName: 'a', serverId: server.id, address: 'a@example.com', username: 'a', password: 'pw' });
    const subjects = ['50% off_now \\o/', '50 percent offXnow', 'Plain news'];
    const mails = subjects.map((subject, i) => {
      const raw = Buffer.from(`From: shop${i}@example.com\r\nSubject: ${subject}\r\nMessage-ID: <m${i}@example.com>\r\n\r\nbody ${i}\r\n`);
      return { uid: String(i), chunks: [raw], meta: extractMetadata(raw) };
    });
    await ctx.repos.messages.storeBatch(acc.id, mails, new Date().toISOString());
    const found = async (q: string) => (await ctx.repos.messages.list({ q, limit: 10 })).items.map((m) => m.subject).sort();
    assert.deepEqual(await found('off_now'), ['50% off_now \\o/'], 'an underscore is not "any character"');
    assert.deepEqual(await found('50%'), ['50% off_now \\o/'], 'a percent sign is not "anything"');
    assert.deepEqual(await found('\\o'), ['50% off_now \\o/'], 'a backslash is a backslash');
    assert.deepEqual(await found('%'), ['50% off_now \\o/']);
    assert.deepEqual(await found('OFF'), ['50 percent offXnow', '50% off_now \\o/'], 'case does not matter');
    assert.deepEqual(await found('news'), ['Plain news']);
  });
}
