// The bulk composer (compiled once per bulk delivery) against composeMail, which it replaces
// for bulk mail: the same bytes (the MIME boundary aside), and mailparser reads the same
// subject, addresses and bodies — for ASCII, Japanese (UTF-8 base64 / quoted-printable),
// ISO-2022-JP and its UTF-8 fallback, and random merge-field values.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { simpleParser } from 'mailparser';
import { compileBulkMail, composeBulkMail, type BulkTemplates } from '../../src/send/compose-delivery.ts';
import { bulkMailChunks, type ComposedBulkMail } from '../../src/mail/compose-bulk.ts';
import { hasBareLineBreak } from '../../src/protocols/smtp/dot-stuffing.ts';
import { compileTemplate, fillTemplate, renderTemplate } from '../../src/mail/template.ts';

const SENDER = { fromName: '郵便 送信係', address: 'news@Example.com' };
const DATE = new Date('2026-12-02T09:30:00Z');
const unboundary = (raw: Buffer): string => raw.toString('latin1').replace(/--_NmP-[0-9a-f]+-Part_1/g, '<boundary>');

/** A recipient's unsubscribe link as src/send/unsubscribe.ts makes them (the address in it, base64url). */
const unsubscribeLink = (to: string): string => `https://news.example.com/unsubscribe/${Buffer.from(to).toString('base64url')}.c2lnbmF0dXJl`;

async function both(t: BulkTemplates, to: string, fields: Record<string, string>, withLink = false) {
  const compiled = await compileBulkMail(t, SENDER, withLink ? unsubscribeLink : null);
  const fast = await compiled.compose(to, fields, 'delivery-1', DATE);
  const reference = await composeBulkMail(t, SENDER, to, fields, 'delivery-1', DATE, withLink ? unsubscribeLink(to) : null);
  return { fast, reference };
}

/** A mail given as shared segments and its own bytes is exactly its raw bytes. */
function assertPartsRebuild(mail: ComposedBulkMail): void {
  if (!mail.parts) return;
  const { base, parts } = mail.parts;
  assert.ok(Buffer.concat(parts.map((p) => (typeof p === 'number' ? base.segments[p]! : p))).equals(mail.raw), 'the parts do not make the mail');
  // what the send worker writes to the socket
  assert.ok(Buffer.concat(bulkMailChunks(mail.parts)).equals(mail.raw), 'the chunks do not make the mail');
  // the send worker tells the SMTP layer so, and it does not look for bare CR or LF
  assert.equal(hasBareLineBreak(mail.raw), false, 'a mail made of segments has a bare CR or LF');
}

async function assertSame(t: BulkTemplates, to: string, fields: Record<string, string>, withLink = false): Promise<void> {
  const { fast, reference } = await both(t, to, fields, withLink);
  assert.equal(unboundary(fast.raw), unboundary(reference.raw));
  assertPartsRebuild(fast);
  assert.deepEqual([fast.subject, fast.messageId, fast.charset, fast.envelope, fast.charsetFallback], [reference.subject, reference.messageId, reference.charset, reference.envelope, reference.charsetFallback]);
  const [a, b] = await Promise.all([simpleParser(fast.raw), simpleParser(reference.raw)]);
  assert.deepEqual([a.subject, a.from?.text, (a.to as { text: string } | undefined)?.text, a.replyTo?.text, a.text, a.html, a.messageId, a.date?.toISOString()], [
    b.subject,
    b.from?.text,
    (b.to as { text: string } | undefined)?.text,
    b.replyTo?.text,
    b.text,
    b.html,
    b.messageId,
    b.date?.toISOString(),
  ]);
  const listLines = (m: typeof a): string[] => m.headerLines.filter((h) => h.key.startsWith('list-')).map((h) => h.line);
  const link = listLines(a);
  assert.deepEqual(link, listLines(b));
  assert.deepEqual(link, withLink ? [`List-Unsubscribe: <${unsubscribeLink(to)}>`, 'List-Unsubscribe-Post: List-Unsubscribe=One-Click'] : [], 'the unsubscribe headers are not read back');
}

const LOREM = 'Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod.\n'.repeat(20);
const NIHONGO = '本日はお忙しいところ誠にありがとうございます。今後ともよろしくお願いいたします。\n'.repeat(10);

const CASES: Array<[string, BulkTemplates, Record<string, string>]> = [
  ['ASCII text, 7bit', { subject: 'Notice for {{name}}', text: `Dear {{name}},\n\n${LOREM}`, html: null, charset: 'utf-8' }, { name: 'Customer 1' }],
  ['Japanese text, UTF-8 base64', { subject: '{{name}}様へのお知らせ', text: `{{name}}様\n\n${NIHONGO}`, html: null, charset: 'utf-8' }, { name: '山田 太郎' }],
  ['mostly Latin with accents, quoted-printable', { subject: 'Caf\u00e9 {{name}}', text: `Bonjour {{name}}, caf\u00e9 cr\u00e8me.\n${LOREM}`, html: null, charset: 'utf-8' }, { name: 'Ren\u00e9e' }],
  ['a line over 76 characters', { subject: 'x', text: `${'y'.repeat(120)} {{name}}\n`, html: null, charset: 'utf-8' }, { name: 'z' }],
  ['text and HTML (fields escaped in HTML)', { subject: '{{name}}様', text: '{{name}}様\nお知らせ', html: '<p>{{name}}様</p>', charset: 'utf-8' }, { name: '山田 & <b>"株"</b>' }],
  ['HTML only', { subject: 'HTML {{name}}', html: '<p>{{name}}</p>', text: null, charset: 'utf-8' }, { name: 'Bob' }],
  ['ISO-2022-JP, 7bit', { subject: '{{name}}様へのお知らせ ①', text: `{{name}}様\n\n${NIHONGO}`, html: null, charset: 'iso-2022-jp' }, { name: '髙橋 ㈱' }],
  ['ISO-2022-JP text and HTML', { subject: '{{name}}様', text: '{{name}}様\n', html: '<p>{{name}}様</p>', charset: 'iso-2022-jp' }, { name: '山田' }],
  ['ISO-2022-JP with a line over 998 octets, base64', { subject: 's', text: `{{name}}${'あ'.repeat(600)}\n`, html: null, charset: 'iso-2022-jp' }, { name: '山田' }],
  ['ISO-2022-JP that cannot carry a field value: UTF-8 with the characters listed', { subject: '{{name}}様', text: '{{name}}様\n', html: null, charset: 'iso-2022-jp' }, { name: '😀 ｶﾀｶﾅ' }],
  ['ISO-2022-JP that cannot carry the template itself', { subject: '〜 {{name}}', text: '{{name}}\n', html: null, charset: 'iso-2022-jp' }, { name: 'a' }],
  ['a field missing from the row, an empty subject', { subject: '{{missing}}', text: 'Dear {{name}}{{missing}}\n', html: null, charset: 'utf-8' }, { name: 'A' }],
  ['a Reply-To, 7bit from shared segments', { subject: 'Notice for {{name}}', text: `Dear {{name}},\n\n${LOREM}`, html: null, charset: 'utf-8', replyTo: 'support@example.com' }, { name: 'Customer 1' }],
  ['a Reply-To long enough to be folded, text and HTML', { subject: '{{name}}様', text: '{{name}}様\n', html: '<p>{{name}}様</p>', charset: 'utf-8', replyTo: `reply+${'long-'.repeat(14)}x@example.com` }, { name: '山田' }],
  ['ISO-2022-JP with a Reply-To', { subject: '{{name}}様へのお知らせ', text: `{{name}}様\n\n${NIHONGO}`, html: null, charset: 'iso-2022-jp', replyTo: 'sales@example.co.jp' }, { name: '山田' }],
  ['a Reply-To at an internationalized domain (punycode, as composeMail writes it)', { subject: 'x {{name}}', text: 'Hi {{name}}\n', html: null, charset: 'utf-8', replyTo: 'info@例え.jp' }, { name: 'y' }],
  ['a value with line breaks and dots', { subject: 'multi {{name}}', text: 'Hello\n{{name}}\n.\n', html: null, charset: 'utf-8' }, { name: 'line one\r\n.line two\nthree' }],
];

/** No Reply-To, a short one, one that nodemailer folds onto a line of its own. */
const REPLY_TO = fc.constantFrom(null, 'support@example.com', `reply+${'x'.repeat(70)}@example.com`);

for (const [name, t, fields] of CASES) {
  test(`the same mail as composeMail: ${name}`, async () => {
    await assertSame(t, 'Rcpt@Example.NET', fields);
    // with an unsubscribe link (List-Unsubscribe, List-Unsubscribe-Post) at the end of the header
    await assertSame(t, 'Rcpt@Example.NET', fields, true);
  });
}

test('the same mail as composeMail for an internationalized recipient domain', async () => {
  await assertSame({ subject: 'IDN {{name}}', text: 'Hi {{name}}\n', html: null, charset: 'utf-8' }, 'user@例え.jp', { name: 'x' });
});

test('a compiled template fills in as renderTemplate does (own properties only, HTML escaping)', () => {
  const template = 'A {{ name }} B {{氏名}} C {{constructor}} {{name}}';
  const fields = { name: '<x>', 氏名: '山田' };
  for (const escapeHtml of [false, true]) {
    assert.equal(fillTemplate(compileTemplate(template), fields, { escapeHtml }), renderTemplate(template, fields, { escapeHtml }).text);
  }
});

test('random merge-field values: the same bytes as composeMail (property)', async () => {
  const value = fc.oneof(
    fc.string({ unit: fc.constantFrom('a', 'Z', ' ', '.', '\n', '\r\n', '=', '?', '山', '田', '①', '～', '😀', 'é', 'ｱ', '<', '&', '\t', '\v', '\u001c'), maxLength: 40 }),
    // printable ASCII only, sometimes long: the 7bit path and its 76-character line rule
    fc.string({ unit: fc.constantFrom('a', 'Z', ' ', '.', '-', '\n'), maxLength: 120 }),
  );
  await fc.assert(
    fc.asyncProperty(value, value, fc.constantFrom<BulkTemplates['charset']>('utf-8', 'iso-2022-jp'), fc.boolean(), fc.constantFrom(`{{name}}様\n\n{{note}}\n${NIHONGO}`, `Dear {{name}},\n\n{{note}}\n${LOREM}`), REPLY_TO, fc.boolean(), async (name, note, charset, withHtml, text, replyTo, withLink) => {
      const t: BulkTemplates = { subject: '{{name}} へのお知らせ', text, html: withHtml ? '<p>{{name}}</p><p>{{note}}</p>' : null, charset, replyTo };
      const { fast, reference } = await both(t, 'rcpt@example.net', { name, note }, withLink);
      assert.equal(unboundary(fast.raw), unboundary(reference.raw));
      assert.deepEqual(fast.charsetFallback, reference.charsetFallback);
      assertPartsRebuild(fast);
    }),
    { numRuns: 100 },
  );
});

test('plain 7-bit mail is made of the templates’ shared segments and the field values; the line rule holds across the joins (property)', async () => {
  // ASCII pieces with line breaks of every kind and lines near 76 characters: the bytes must
  // be composeMail's whether the mail is built from segments or not
  const piece = fc.string({ unit: fc.constantFrom('a', 'b', ' ', '.', '\n', '\r\n', '\t', 'x'.repeat(19), '<&>'), maxLength: 12 });
  // a bare CR, at the end of a value too (where the next literal's LF makes it a CRLF)
  const withCr = fc.oneof(piece, fc.string({ unit: fc.constantFrom('a', '\n', '\r', 'x'.repeat(19)), maxLength: 6 }));
  let withParts = 0;
  await fc.assert(
    fc.asyncProperty(piece, piece, piece, piece, withCr, fc.boolean(), REPLY_TO, fc.boolean(), async (a, b, c, name, note, withHtml, replyTo, withLink) => {
      const t: BulkTemplates = { subject: 'S {{name}}', text: `${a}{{name}}${b}{{note}}${c}`, html: withHtml ? `<p>${a}{{name}}</p>{{note}}` : null, charset: 'utf-8', replyTo };
      const { fast, reference } = await both(t, 'rcpt@example.net', { name, note }, withLink);
      assert.equal(unboundary(fast.raw), unboundary(reference.raw));
      assertPartsRebuild(fast);
      if (fast.parts) withParts++;
    }),
    { numRuns: 300 },
  );
  assert.ok(withParts > 100, `only ${withParts} of 300 mails were built from segments`);
});

test('the shared segments are the same for the same templates in any composer, and stand for most of a 10 KB mail', async () => {
  const t: BulkTemplates = { subject: 'Notice for {{name}}', text: `Dear {{name}},\n\n${LOREM.repeat(7)}\nCustomer number {{number}}\n`, html: null, charset: 'utf-8' };
  const [x, y] = await Promise.all([compileBulkMail(t, SENDER), compileBulkMail(t, SENDER)]);
  const a = await x.compose('a@example.net', { name: 'A', number: '1' }, 'd-1', DATE);
  const b = await y.compose('b@example.net', { name: 'B', number: '2' }, 'd-2', DATE);
  assert.ok(a.parts && b.parts);
  assert.equal(a.parts.base.id, b.parts.base.id);
  const own = a.parts.parts.reduce<number>((n, p) => n + (typeof p === 'number' ? 0 : p.length), 0);
  assert.ok(a.raw.length > 10_000 && own < 500, `${own} of ${a.raw.length} bytes are the mail's own`);
  // for the socket: the long literal is the shared segment itself (no copy per mail), the rest a few small buffers
  const chunks = bulkMailChunks(a.parts);
  assert.ok(chunks.some((c) => a.parts!.base.segments.includes(c) && c.length > 9_000));
  assert.ok(chunks.length <= 3, `${chunks.length} chunks`);
});

test('ASCII subjects of any length, with quotes, "=?" and runs of spaces: the same header as composeMail (property)', async () => {
  const subject = fc.string({ unit: fc.constantFrom('a', 'Z', ' ', '  ', '"', '=?', '?=', '(', ')', ':', ';', ',', '.', '\\', "'", 'x'.repeat(12)), maxLength: 12 });
  await fc.assert(
    fc.asyncProperty(subject, async (s) => {
      const t: BulkTemplates = { subject: `${s}{{name}}`, text: 'Dear {{name}}\n', html: null, charset: 'utf-8' };
      const { fast, reference } = await both(t, 'rcpt@example.net', { name: 'N' });
      assert.equal(unboundary(fast.raw), unboundary(reference.raw));
    }),
    { numRuns: 300 },
  );
});

test('a subject that fills in blank (spaces, control characters) is left out, on the fast path as by composeMail, in either charset; an ideographic or no-break space is kept', async () => {
  for (const charset of ['utf-8', 'iso-2022-jp'] as const) {
    for (const name of ['', ' ', '  ', '\v', '\u001f\f', '\u3000', '\u00a0']) {
      const t: BulkTemplates = { subject: '{{name}}', text: 'Dear {{name}}\n', html: null, charset };
      const { fast, reference } = await both(t, 'rcpt@example.net', { name });
      assert.equal(unboundary(fast.raw), unboundary(reference.raw), `${charset} ${JSON.stringify(name)}`);
      const subjects = fast.raw.toString('latin1').split('\r\n\r\n')[0]!.match(/^subject:/gim)?.length ?? 0;
      assert.equal(subjects, /^[\u0000-\u0020\u007f]*$/.test(name) ? 0 : 1, `${charset} ${JSON.stringify(name)}`);
    }
  }
});
