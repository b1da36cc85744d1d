// Random mail through a real Dovecot, over POP3 and IMAP4 (property): whatever the bytes of a
// mail — 8-bit and control bytes in its headers and body, lines of ".", ".." or ".x" anywhere
// (dot-stuffing on the POP3 wire), bare LF line ends (Dovecot sends CRLF), lines far over 998
// octets, mails over IMAP's 64 KiB streaming parts — the receive run stores exactly the bytes
// Dovecot serves, each mail once, reports no error, and deletes the server's copies only once
// stored; each can be shown decoded; on SQLite and PostgreSQL. The interop tests check one
// hand-made mail of each kind; this draws them at random.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { decodeMessage } from '../../src/mail/decode-body.ts';
import { receiveAccount } from '../../src/receive/receive-run.ts';
import { contextFor, ENGINES } from '../support/app-context.ts';
import { receiveFixture } from '../support/receive-fixture.ts';
import { servedBytes } from '../support/receive-invariants.ts';

/** One line's bytes: no CR or LF (the line end is drawn apart), no NUL (IMAP cannot carry it: Dovecot sends 0x80). */
const lineBytes = fc.oneof(
  { weight: 6, arbitrary: fc.uint8Array({ maxLength: 80 }).map((a) => Buffer.from(a.map((b) => (b === 0x0d || b === 0x0a || b === 0 ? 0x2e : b)))) },
  // what dot-stuffing is about, and where a terminator could be mistaken
  { weight: 3, arbitrary: fc.constantFrom('.', '..', '...', '.x', '. ', ' .', '', '.\t').map((s) => Buffer.from(s, 'latin1')) },
  // a long line (some mailers write them; RFC 5322 says 998)
  { weight: 1, arbitrary: fc.tuple(fc.constantFrom('a', '.', '\x82\xa0', 'x.'), fc.integer({ min: 900, max: 3000 })).map(([s, n]) => Buffer.from(s.repeat(n), 'latin1')) },
);
const lineEnd = fc.constantFrom('\r\n', '\r\n', '\r\n', '\n').map((s) => Buffer.from(s));
const lines = fc.array(fc.tuple(lineBytes, lineEnd), { maxLength: 40 }).map((ls) => Buffer.concat(ls.flat()));
/** Sometimes a body over IMAP's 64 KiB streaming parts: a block of lines repeated. */
const body = fc.oneof({ weight: 4, arbitrary: lines }, { weight: 1, arbitrary: fc.tuple(lines, fc.integer({ min: 20, max: 200 })).map(([b, n]) => Buffer.concat(Array(n).fill(b.length ? b : Buffer.from('.\r\n')))) });
/** A mail: a unique header (a mail stored once is found by its SHA-256), a Subject of any bytes, the body. */
const mail = fc.tuple(lineBytes, body).map(([subject, b]) => (seq: number) => Buffer.concat([Buffer.from(`From: a@example.com\r\nX-Seq: ${seq}\r\nSubject: `), subject, Buffer.from('\r\n\r\n'), b]));

// both engines: PostgreSQL stores a mail's bytes in chunks of its own
const CASES = ENGINES.flatMap((engine) => (['pop3', 'imap4'] as const).map((protocol) => [engine, protocol] as const));

for (const [engine, protocol] of CASES) {
  test(`${protocol} on ${engine}: random mails come back exactly as Dovecot serves them, each once, the server's copies deleted (property)`, async (t) => {
    const ctx = await contextFor(t, engine);
    if (!ctx) return;
    const f = await receiveFixture(t, ctx, { protocol });
    if (!f) return;
    let seq = 0;
    let total = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(mail, { minLength: 1, maxLength: 12 }), async (makers) => {
        const mails = makers.map((make) => make(++seq));
        for (const m of mails) await f.bed.deliver(f.user, m);
        const before = new Set((await ctx.db.kysely.selectFrom('messages').select('id').execute()).map((r) => r.id));
        const r = await receiveAccount(ctx, ctx.repos.messages, f.accountId, { ca: f.bed.ca });
        assert.deepEqual([r.received, r.errors], [mails.length, []], JSON.stringify(r));
        const rows = (await ctx.db.kysely.selectFrom('messages').select('id').execute()).filter((x) => !before.has(x.id));
        const raws = await Promise.all(rows.map((x) => ctx.repos.messages.rawBuffer(x.id)));
        assert.deepEqual(raws.map((b) => b.toString('hex')).sort(), mails.map((m) => servedBytes(m).toString('hex')).sort());
        // and the web UI can show each (GET /api/v1/messages/:id decodes it)
        for (const raw of raws) await decodeMessage(raw);
        assert.equal(await f.bed.count(f.user), 0, 'the server copies are deleted once stored');
        total += mails.length;
      }),
      { numRuns: 6 },
    );
    t.diagnostic(`${total} random mails received over ${protocol} on ${engine}`);
  });
}
