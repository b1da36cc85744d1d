// Sent bulk mail is stored as a recipe over its bulk delivery's shared segments (migration
// 0007, store/delivery-raw.ts) when its body is plain 7-bit text, and whole otherwise; on
// both engines the stored mail read back is byte for byte what the SMTP server received.
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { simpleParser } from 'mailparser';
import { describe, it } from 'node:test';
import { BulkDeliveryService } from '../../src/send/bulk-service.ts';
import { DeliveryService } from '../../src/send/delivery-service.ts';
import { startSendWorker } from '../../src/send/send-worker.ts';
import { decodeRecipe, encodeBase, decodeBase, encodeRecipe } from '../../src/store/delivery-raw.ts';
import { contextFor, ENGINES } from '../support/app-context.ts';
import { startSmtpServer } from '../protocols/smtp/smtp-test-servers.ts';
import { addSendingAccount, cleanups, waitFor } from './send-fixture.ts';

const LOREM = 'Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod.\n'.repeat(60);

for (const engine of ENGINES) {
  describe(`stored bulk mail on ${engine}`, () => {
    it('plain mail is stored as a recipe of a few hundred bytes, other mail whole; each reads back as the bytes the server received', async (t) => {
      const ctx = await contextFor(t, engine);
      if (!ctx) return;
      const later = cleanups(t);
      const smtp = await startSmtpServer();
      later(() => smtp.close());
      const f = await addSendingAccount(ctx, { port: smtp.port, address: 'news@example.com', fromName: 'News' });
      const rows = Array.from({ length: 40 }, (_, i) => `r${i}@example.net,Customer ${i},${1000 + i}`);
      // a Japanese name makes that mail's text base64: stored whole
      rows.push('yamada@example.net,山田 太郎,7');
      // a long value breaks the 76-character line rule: quoted-printable, stored whole
      rows.push(`long@example.net,${'x'.repeat(90)},8`);
      const created = await new BulkDeliveryService(ctx).create('test', {
        accountId: f.accountId,
        subject: 'Notice for {{name}}',
        text: `Dear {{name}},\n\n${LOREM}\nCustomer number {{number}}\n.\n`,
        html: '<p>Dear {{name}}</p><p>{{number}}</p>',
        recipientsCsv: ['email,name,number', ...rows].join('\n'),
      });
      // queued: each mail's subject and Message-ID are already on its delivery
      const deliveries = new DeliveryService(ctx);
      const queued = (await new BulkDeliveryService(ctx).recipients(created.id, { limit: 100 })).items;
      const before = new Map<string, { subject: string | null; messageId: string | null }>();
      for (const item of queued) {
        const d = await deliveries.get(item.deliveryId);
        assert.equal(d.size, null);
        before.set(item.address, { subject: d.subject, messageId: d.messageId });
      }
      assert.deepEqual(before.get('r3@example.net'), { subject: 'Notice for Customer 3', messageId: `<${queued.find((i) => i.address === 'r3@example.net')!.deliveryId}@example.com>` });

      const w = startSendWorker(ctx, { pollIntervalMs: 50, sessions: 2 });
      later(() => w.stop());
      await waitFor('the bulk delivery to finish', async () => ((await new BulkDeliveryService(ctx).get(created.id)).sent === 42 ? true : undefined));
      assert.equal(smtp.mails.length, 42);

      const received = new Map(smtp.mails.map((m) => [m.to.join(','), m.raw]));
      const items = (await new BulkDeliveryService(ctx).recipients(created.id, { limit: 100 })).items;
      assert.equal(items.length, 42);
      for (const item of items) {
        const stored = await deliveries.raw(item.deliveryId);
        const mail = received.get(item.address)!;
        assert.ok(stored.equals(mail), `the stored mail of ${item.address} is not what the server received`);
        // sent: the same subject and Message-ID as the mail's headers, and its size (a recipe's from the recipe)
        const d = await deliveries.get(item.deliveryId);
        const parsed = await simpleParser(mail);
        assert.deepEqual([d.subject, d.messageId, d.size], [parsed.subject, parsed.messageId, mail.length], item.address);
        assert.deepEqual({ subject: d.subject, messageId: d.messageId }, before.get(item.address));
      }

      const db = ctx.db.kysely;
      const recipes = await db.selectFrom('delivery_recipes').select(['delivery_id', 'data']).where('bulk_id', '=', created.id).execute();
      const bases = await db.selectFrom('delivery_bases').select(['id']).where('bulk_id', '=', created.id).execute();
      const whole = await db
        .selectFrom('delivery_chunks')
        .innerJoin('deliveries', 'deliveries.id', 'delivery_chunks.delivery_id')
        .select('deliveries.id')
        .where('deliveries.bulk_id', '=', created.id)
        .execute();
      assert.equal(recipes.length, 40, 'the 40 plain mails are recipes');
      assert.equal(bases.length, 1, 'one base for the bulk delivery');
      assert.equal(new Set(whole.map((r) => r.id)).size, 2, 'the two encoded mails are whole');
      const biggest = Math.max(...recipes.map((r) => Buffer.from(r.data).length));
      const mailSize = received.get('r0@example.net')!.length;
      assert.ok(mailSize > 4000 && biggest < 600, `a recipe of ${biggest} bytes for a mail of ${mailSize}`);

      // deleting the account deletes its bulk deliveries and everything stored for them
      await db.deleteFrom('mail_accounts').where('id', '=', f.accountId).execute();
      assert.equal((await db.selectFrom('delivery_recipes').select('delivery_id').execute()).length, 0);
      assert.equal((await db.selectFrom('delivery_bases').select('id').execute()).length, 0);
    });
  });
}

it('a recipe that does not fit its base is refused, not read as another mail', () => {
  const segments = [Buffer.from('Hello '), Buffer.from('\r\n')];
  const recipe = encodeRecipe([0, Buffer.from('world'), 1], segments);
  assert.equal(decodeRecipe(recipe, decodeBase(encodeBase(segments))).toString(), 'Hello world\r\n');
  assert.throws(() => decodeRecipe(recipe, [Buffer.from('Hi '), Buffer.from('\r\n')]), /put together/);
  assert.throws(() => decodeRecipe(recipe, [Buffer.from('Hello ')]), /no base segment 1/);
  assert.throws(() => decodeRecipe(recipe.subarray(0, recipe.length - 2), segments), /truncated/);
  // a segment longer than 127 bytes and an index over 63: two-byte numbers
  const many = Array.from({ length: 200 }, (_, i) => Buffer.from(`${i}:${'z'.repeat(i)}`));
  const parts = [150, Buffer.from('own'), 3, 199];
  assert.ok(decodeRecipe(encodeRecipe(parts, many), decodeBase(encodeBase(many))).equals(Buffer.concat([many[150]!, Buffer.from('own'), many[3]!, many[199]!])));
});

it('any recipe reads back as the bytes it was made of: segments and own bytes of any length, one- to three-byte numbers (property)', () => {
  fc.assert(
    fc.property(
      fc.array(fc.integer({ min: 0, max: 20_000 }), { minLength: 1, maxLength: 5 }),
      fc.array(fc.oneof(fc.nat(), fc.integer({ min: 0, max: 20_000 }).map((n) => Buffer.alloc(n, 0x61))), { maxLength: 8 }),
      (lengths, picks) => {
        const segments = lengths.map((n, i) => Buffer.alloc(n, 0x30 + i));
        const parts = picks.map((p) => (typeof p === 'number' ? p % segments.length : p));
        const expected = Buffer.concat(parts.map((p) => (typeof p === 'number' ? segments[p]! : p)));
        assert.ok(decodeRecipe(encodeRecipe(parts, segments), decodeBase(encodeBase(segments))).equals(expected));
      },
    ),
    { numRuns: 200 },
  );
});
