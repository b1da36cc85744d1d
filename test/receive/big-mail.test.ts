// A mail larger than the streaming threshold goes to the database piece by piece
// and comes back byte-exact; the same bytes again (another UID) are not stored twice.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { receiveAccount, STREAM_TO_DATABASE_BYTES } from '../../src/receive/receive-run.ts';
import { contextFor, ENGINES } from '../support/app-context.ts';
import { receiveFixture } from '../support/receive-fixture.ts';

for (const engine of ENGINES) {
  test(`${engine}: a big mail is streamed into the store and read back exactly`, async (t) => {
    const ctx = await contextFor(t, engine);
    if (!ctx) return;
    const f = await receiveFixture(t, ctx, { protocol: 'pop3', leaveOnServer: { mode: 'forever' } });
    if (!f) return;
    const line = Buffer.from('0123456789'.repeat(7) + '\x82\xa0\x82\xa2\r\n', 'latin1'); // 8-bit bytes too
    const parts = [Buffer.from('From: big@example.com\r\nSubject: big\r\n\r\n')];
    for (let n = 0; n * line.length < STREAM_TO_DATABASE_BYTES + 300_000; n++) parts.push(line);
    const raw = Buffer.concat(parts);
    await f.bed.deliver(f.user, raw);
    await f.bed.deliver(f.user, raw); // the same bytes under a second UID
    const s = await receiveAccount(ctx, ctx.repos.messages, f.accountId);
    assert.equal(s.received, 1);
    assert.equal(s.duplicates, 1);
    const [m] = (await ctx.repos.messages.list({ accountId: f.accountId, limit: 10 })).items;
    assert.equal(m!.size, raw.length);
    const back = await ctx.repos.messages.rawBuffer(m!.id);
    assert.equal(createHash('sha256').update(back).digest('hex'), createHash('sha256').update(raw).digest('hex'));
    const staged = await ctx.db.kysely.selectFrom('message_staging_chunks').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
    assert.equal(Number(staged.n), 0, 'nothing left in staging');
  });
}
