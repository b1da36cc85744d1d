// Property tests of the sending API: whatever a client POSTs to /api/v1/deliveries or
// /api/v1/bulk-deliveries — valid, nearly valid or nonsense — the answer is never a 5xx; a
// refusal has the error shape and stores nothing; an accepted mail's stored bytes are a
// well-formed message whose headers carry exactly what was asked (no header injection
// through a subject, a name or a file name), and a bulk delivery accounts for every row.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { junk, maybe, mostly as anyOf } from '../support/arbitraries.ts';
import { api, harness, randomRequests, type Harness, type Json } from '../http/helpers.ts';
import { addSendingAccount } from './send-fixture.ts';

const mostly = <T, U>(valid: fc.Arbitrary<T>, invalid: fc.Arbitrary<U>) => anyOf(valid, invalid, 12);

/** Text a user might type or paste: Japanese, emoji, line breaks, control characters, long runs. */
const text = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.string({ maxLength: 40, unit: 'grapheme' }),
  fc.string({ maxLength: 60, unit: 'binary' }),
  fc.constantFrom('件名', 'お知らせ\r\nBcc: victim@example.com', 'x\nX-Injected: yes', '①②③ ㈱ 髙﨑', '😀 emoji', '\u0000nul', 'a'.repeat(1200), '=?utf-8?B?AAAA?=', ' '),
);
const address = fc.oneof(
  { weight: 8, arbitrary: fc.emailAddress() },
  { weight: 1, arbitrary: fc.constantFrom('not an address', 'x@@y', '<a@example.com>', 'a@example.com\r\nRCPT TO:<b@example.com>', 'ユーザー@例え.jp', '', ' a@example.com ', 'a@[127.0.0.1]') },
  { weight: 1, arbitrary: text },
);
// Message-IDs with or without their brackets, and ones that are not (rarely: each bad one
// refuses the whole body, and the accepting side must be reached often)
const messageId = fc.tuple(fc.boolean(), fc.emailAddress()).map(([brackets, a]) => (brackets ? `<${a}>` : a));
const notMessageId = fc.oneof(fc.constantFrom('no-at', '<a@b', 'a b@c', 'a@b@c', '<a@b>\r\nBcc: victim@example.com', '<>', '@', `<${'x'.repeat(300)}@example.com>`), text);
const attachment = fc.record(
  {
    filename: mostly(fc.oneof(fc.string({ minLength: 1, maxLength: 30 }), fc.constantFrom('請求書.pdf', 'a\r\nContent-Type: text/html', 'x"y.txt', '../../etc/passwd')), junk),
    contentType: mostly(fc.constantFrom('text/plain', 'application/pdf', 'image/png', 'application/octet-stream'), fc.oneof(text, junk)),
    contentBase64: mostly(fc.uint8Array({ maxLength: 200 }).map((b) => Buffer.from(b).toString('base64')), fc.oneof(fc.constantFrom('@@@', 'abc', '===='), junk)),
  },
  { requiredKeys: ['filename', 'contentType', 'contentBase64'] },
);

const deliveryBody = (accountId: string) =>
  fc.record(
    {
      accountId: mostly(fc.constant(accountId), fc.oneof(fc.uuid(), text, junk)),
      to: mostly(fc.array(address, { minLength: 1, maxLength: 3 }), fc.oneof(fc.constant([]), junk, fc.array(junk, { maxLength: 2 }))),
      cc: maybe(mostly(fc.array(address, { maxLength: 2 }), junk)),
      bcc: maybe(mostly(fc.array(address, { maxLength: 2 }), junk)),
      subject: mostly(text, junk),
      text: maybe(mostly(fc.oneof(text, fc.constant(null)), junk)),
      html: maybe(mostly(fc.oneof(fc.constantFrom('<p>こんにちは</p>', '<b>x</b>\r\n.\r\n'), text, fc.constant(null)), junk)),
      attachments: maybe(mostly(fc.array(attachment, { maxLength: 2 }), junk)),
      charset: maybe(mostly(fc.constantFrom('utf-8', 'iso-2022-jp'), fc.oneof(fc.constantFrom('UTF-8', 'shift_jis', ''), junk))),
      replyTo: maybe(anyOf(fc.oneof(fc.emailAddress(), fc.constant(null)), fc.oneof(address, junk), 30)),
      inReplyTo: maybe(anyOf(fc.oneof(messageId, fc.constant(null)), fc.oneof(notMessageId, junk), 30)),
      references: maybe(anyOf(fc.array(messageId, { maxLength: 3 }), fc.oneof(fc.array(fc.oneof(messageId, notMessageId), { minLength: 1, maxLength: 3 }), junk), 30)),
    },
    { requiredKeys: ['accountId', 'to', 'subject'] },
  );

async function countRows(h: Harness, table: 'deliveries' | 'bulk_deliveries'): Promise<number> {
  const row = await h.ctx.db.kysely
    .selectFrom(table)
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

/** The header section of a stored mail, unfolded, as [name, value] pairs; every line ends in CRLF and fits RFC 5322's 998 characters. */
function headersOf(raw: Buffer): [string, string][] {
  const s = raw.toString('latin1');
  const end = s.indexOf('\r\n\r\n');
  assert.ok(end > 0, 'no blank line after the headers');
  for (const line of s.split('\r\n')) {
    assert.ok(!line.includes('\n') && !line.includes('\r'), `a bare CR or LF in ${JSON.stringify(line.slice(0, 80))}`);
    assert.ok(line.length <= 998, `a line of ${line.length} characters`);
  }
  const out: [string, string][] = [];
  for (const line of s.slice(0, end).split('\r\n')) {
    if (/^[ \t]/.test(line)) {
      assert.ok(out.length > 0, 'a continuation line first');
      out[out.length - 1]![1] += line;
      continue;
    }
    const colon = line.indexOf(':');
    assert.ok(colon > 0, `not a header line: ${JSON.stringify(line.slice(0, 80))}`);
    out.push([line.slice(0, colon).toLowerCase(), line.slice(colon + 1)]);
  }
  return out;
}

const RUNS = 250;

/** POST random bodies (and some junk) to `url`, in Japanese or English; a refusal adds no row to `table`. */
function postRandom(h: Harness, url: string, table: 'deliveries' | 'bulk_deliveries', bodies: fc.Arbitrary<unknown>, check: (created: Json, body: Json) => Promise<void>): Promise<number> {
  const inputs = fc.tuple(fc.oneof({ weight: 8, arbitrary: bodies }, { weight: 1, arbitrary: junk }), fc.constantFrom('ja' as const, 'en' as const));
  return randomRequests(RUNS, inputs, {
    send: ([body, lang]) => api(h, { method: 'POST', url, body, lang }),
    ok: 201,
    state: () => countRows(h, table),
    check: (res, [body]) => check(res.json, body),
  });
}

test('random deliveries never give a 5xx; a refusal stores nothing; a stored mail has exactly its own headers', async (t) => {
  const h = await harness(t);
  if (!h) return;
  const { accountId } = await addSendingAccount(h.ctx, { port: 2525 });
  const accepted = await postRandom(h, '/api/v1/deliveries', 'deliveries', deliveryBody(accountId), async (created, body) => {
    const raw = await h.app.inject({ url: `/api/v1/deliveries/${created.id}/raw`, headers: h.auth });
    assert.equal(raw.statusCode, 200);
    const headers = headersOf(raw.rawPayload);
    const count = (name: string) => headers.filter(([n]) => n === name).length;
    for (const name of ['from', 'message-id', 'date', 'mime-version']) assert.equal(count(name), 1, `${name}: ${count(name)} times for ${JSON.stringify(body)}`);
    // a blank subject (spaces, tabs, line breaks and other control characters) is left out
    // (RFC 5322 §3.6.5: optional); any other is there once
    assert.equal(count('subject'), /^[\u0000-\u0020\u007f]*$/.test(body.subject) ? 0 : 1, `subject: ${count('subject')} times for ${JSON.stringify(body)}`);
    assert.equal(count('bcc'), 0, 'a Bcc header in the stored mail');
    // Reply-To, In-Reply-To and References once each when given, else not at all; a Message-ID as one token
    assert.equal(count('reply-to'), body.replyTo ? 1 : 0, `reply-to for ${JSON.stringify(body)}`);
    assert.equal(count('in-reply-to'), body.inReplyTo ? 1 : 0, `in-reply-to for ${JSON.stringify(body)}`);
    assert.equal(count('references'), body.references?.length ? 1 : 0, `references for ${JSON.stringify(body)}`);
    for (const [name, value] of headers) if (name === 'in-reply-to' || name === 'references') assert.match(value.trim(), /^<[!-;=?-~]+@[!-;=?-~]+>( <[!-;=?-~]+@[!-;=?-~]+>)*$/, `${name}: ${value}`);
    for (const [name] of headers) assert.match(name, /^[!-9;-~]+$/, `header name ${JSON.stringify(name)}`);
    assert.ok(!headers.some(([n]) => n === 'x-injected' || n === 'rcpt to'), `an injected header: ${JSON.stringify(body)}`);
    // the recipients are addresses that were asked for (To, Cc, Bcc), each queued
    const asked = new Set([...body.to, ...(body.cc ?? []), ...(body.bcc ?? [])].map((a: string) => a.trim().toLowerCase()));
    assert.ok(created.recipients.length >= 1);
    for (const r of created.recipients) {
      assert.ok(asked.has(r.address.toLowerCase()), `${r.address} was not asked for: ${JSON.stringify(body)}`);
      assert.equal(r.status, 'queued');
    }
  });
  t.diagnostic(`${accepted} of ${RUNS} random deliveries were stored`);
  assert.ok(accepted >= 35, `only ${accepted} of ${RUNS} random deliveries were valid: the generator must reach the accepting side`);
});

/** A CSV file a user might upload: a header row with an address column and a name column, then rows, some of them odd. */
const csvRow = fc.tuple(address, fc.oneof(text, fc.constantFrom('山田 太郎', '"quoted, with comma"', 'line\nbreak', ''))).map(([a, n]) => [a, n]);
const quote = (v: string) => (/[",\r\n]/.test(v) ? `"${v.replaceAll('"', '""')}"` : v);
/** A CSV file and the header of its address column. */
const csvFile = fc
  .tuple(
    fc.oneof({ weight: 6, arbitrary: fc.constantFrom('email,name', 'メールアドレス,name', 'name,address', 'E-mail,name') }, { weight: 1, arbitrary: fc.constantFrom('x,y', 'email', '') }),
    fc.oneof({ weight: 8, arbitrary: fc.array(csvRow, { minLength: 1, maxLength: 12 }) }, { weight: 1, arbitrary: fc.constant([]) }),
    fc.constantFrom('\r\n', '\n'),
    fc.boolean(),
    fc.option(fc.constantFrom('"unterminated', 'a,b,c,d', ',', ''), { nil: undefined, freq: 4 }),
  )
  .map(([header, rows, eol, bom, odd]) => {
    const columns = header.split(',');
    const first = columns[0];
    const lines = rows.map(([a, n]) => (first === 'name' ? [n, a] : [a, n]).map((v) => quote(v!)).join(','));
    if (odd !== undefined) lines.splice(Math.floor(lines.length / 2), 0, odd);
    return { csv: (bom ? '\ufeff' : '') + [header, ...lines].join(eol), addressHeader: first === 'name' ? columns[1] : first };
  });

/** The recipients: mostly one CSV, as text or as a file's bytes, sometimes naming its address column; sometimes both, neither or junk. */
const recipients = fc
  .tuple(
    csvFile,
    fc.oneof({ weight: 5, arbitrary: fc.constant('text') }, { weight: 3, arbitrary: fc.constant('base64') }, { weight: 1, arbitrary: fc.constant('odd') }),
    fc.option(mostly(fc.constant('named'), fc.oneof(fc.constant('nope'), junk)), { nil: undefined, freq: 3 }),
    fc.record({ recipientsCsv: fc.oneof(csvFile.map((f) => f.csv), junk), recipientsCsvBase64: fc.oneof(fc.constantFrom('@@', 'AAAA', ''), junk) }, { requiredKeys: [] }),
  )
  .map(([file, how, column, odd]) => ({
    ...(how === 'text' ? { recipientsCsv: file.csv } : how === 'base64' ? { recipientsCsvBase64: Buffer.from(file.csv).toString('base64') } : odd),
    ...(column === undefined ? {} : { addressColumn: column === 'named' ? file.addressHeader : column }),
  }));

const bulkBody = (accountId: string) =>
  fc
    .tuple(
      fc.record(
        {
          accountId: mostly(fc.constant(accountId), fc.oneof(fc.uuid(), junk)),
          subject: mostly(fc.oneof(fc.constantFrom('{{name}} 様へのお知らせ', 'お知らせ', '{{ name }} 様'), text), fc.oneof(fc.constantFrom('{{missing}}', '{{', '}}{{'), junk)),
          text: maybe(mostly(fc.oneof(fc.constantFrom('{{name}} 様\r\n本文', 'plain'), text, fc.constant(null)), junk)),
          html: maybe(mostly(fc.oneof(fc.constantFrom('<p>{{name}}</p>', '<p>&amp;</p>'), fc.constant(null)), fc.oneof(fc.constant('<p>{{名前}}</p>'), junk))),
          charset: maybe(mostly(fc.constantFrom('utf-8', 'iso-2022-jp'), junk)),
          replyTo: maybe(anyOf(fc.oneof(fc.emailAddress(), fc.constant(null)), fc.oneof(address, junk), 30)),
        },
        { requiredKeys: ['accountId', 'subject'] },
      ),
      recipients,
    )
    .map(([b, r]) => ({ ...b, ...r }));

test('random bulk deliveries never give a 5xx; a refusal stores nothing; an accepted one accounts for every recipient row', async (t) => {
  const h = await harness(t);
  if (!h) return;
  const { accountId } = await addSendingAccount(h.ctx, { port: 2525 });
  const accepted = await postRandom(h, '/api/v1/bulk-deliveries', 'bulk_deliveries', bulkBody(accountId), async (created, body) => {
    assert.ok(created.total >= 1, `a bulk delivery with no recipient was accepted: ${JSON.stringify(body)}`);
    for (const s of created.skipped) {
      assert.ok(['invalid_address', 'duplicate', 'suppressed'].includes(s.reason), JSON.stringify(s));
      assert.ok(Number.isInteger(s.row) && s.row >= 2, JSON.stringify(s));
      assert.equal(typeof s.message, 'string');
    }
    const got = await api(h, { url: `/api/v1/bulk-deliveries/${created.id}` });
    assert.equal(got.status, 200);
    assert.equal(got.json.total, created.total);
    assert.equal(got.json.pending, created.total);
    assert.equal(got.json.status, 'running');
    if (body.replyTo) assert.match(got.json.replyTo, /^[^\s@<>]+@[^\s@<>]+$/, `Reply-To ${JSON.stringify(got.json.replyTo)} for ${JSON.stringify(body.replyTo)}`);
    else assert.equal(got.json.replyTo, null);
    // every recipient is a distinct, valid address
    const list = await api(h, { url: `/api/v1/bulk-deliveries/${created.id}/recipients?limit=1000` });
    assert.equal(list.status, 200, list.raw);
    const addresses: string[] = list.json.items.map((r: Json) => r.address);
    assert.equal(addresses.length, created.total);
    assert.equal(new Set(addresses.map((a) => a.toLowerCase())).size, addresses.length, `duplicates queued: ${addresses.join(' ')}`);
    for (const a of addresses) assert.match(a, /^[^\s@<>]+@[^\s@<>]+$/, `queued ${JSON.stringify(a)}`);
    // nothing goes out from here: a bulk delivery left running would be claimed by a later test's worker
    assert.equal((await api(h, { method: 'POST', url: `/api/v1/bulk-deliveries/${created.id}/cancel` })).status, 200);
  });
  t.diagnostic(`${accepted} of ${RUNS} random bulk deliveries were accepted`);
  assert.ok(accepted >= 30, `only ${accepted} of ${RUNS} random bulk deliveries were accepted: the generator must reach the accepting side`);
});
