// The sending API (INTERFACE.md "Deliveries"): shapes, field-named errors in Japanese and
// English, the size limit at POST time, CSV problems with row numbers, pause / resume /
// cancel, the suppression list. What the API stores is checked; one test sends (to a closed
// port) to see a failure worded in the reader's language.
import net from 'node:net';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import iconv from 'iconv-lite';
import { sendDeliveryNow } from '../../src/send/send-worker.ts';
import { api, harness, type Harness, type Json } from '../http/helpers.ts';
import { addSendingAccount } from './send-fixture.ts';

async function setup(t: Parameters<typeof harness>[0], o: { maxMessageBytes?: number | null } = {}): Promise<{ h: Harness; accountId: string } | undefined> {
  const h = await harness(t);
  if (!h) return undefined;
  const f = await addSendingAccount(h.ctx, { port: 2525, maxMessageBytes: o.maxMessageBytes ?? null });
  return { h, accountId: f.accountId };
}

test('POST /api/v1/deliveries queues one mail per the interface; GET shows each recipient', async (t) => {
  const s = await setup(t);
  if (!s) return;
  const res = await api(s.h, {
    method: 'POST',
    url: '/api/v1/deliveries',
    body: { accountId: s.accountId, to: ['a@example.com'], cc: [], bcc: ['hidden@example.com'], subject: '件名', text: '本文', html: null, attachments: [], charset: 'utf-8' },
  });
  assert.equal(res.status, 201, res.raw);
  assert.equal(res.json.status, 'queued');
  assert.deepEqual(
    res.json.recipients.map((r: Json) => [r.address, r.kind, r.status, r.code, r.reply]),
    [
      ['a@example.com', 'to', 'queued', null, null],
      ['hidden@example.com', 'bcc', 'queued', null, null],
    ],
  );
  const got = await api(s.h, { url: `/api/v1/deliveries/${res.json.id}` });
  assert.equal(got.status, 200);
  assert.equal(got.json.subject, '件名');
  assert.equal(typeof got.json.size, 'number');
  const raw = await s.h.app.inject({ url: `/api/v1/deliveries/${res.json.id}/raw`, headers: s.h.auth });
  assert.equal(raw.statusCode, 200);
  assert.match(String(raw.headers['content-type']), /message\/rfc822/);
  assert.equal(raw.rawPayload.length, got.json.size);
  // (an address no Message-ID can end with: `<…b@example.com>` is a UUID ending in b)
  assert.ok(!raw.rawPayload.toString('latin1').includes('hidden@example.com'), 'Bcc in the stored headers');
  assert.ok(!/^Bcc:/im.test(raw.rawPayload.toString('latin1')), 'a Bcc header in the stored mail');
  const audit = await s.h.ctx.repos.audit.list({ limit: 10 });
  assert.ok(audit.items.some((e) => e.action === 'delivery.create' && e.actor === 'token:tests'));
  assert.equal((await api(s.h, { url: '/api/v1/deliveries/nope' })).status, 404);
});

test('a reply: Reply-To, In-Reply-To and References go into the mail as given (brackets added where left out); bad ones are field errors', async (t) => {
  const s = await setup(t);
  if (!s) return;
  const post = (extra: Json, lang: 'ja' | 'en' = 'en') =>
    api(s.h, { method: 'POST', url: '/api/v1/deliveries', lang, body: { accountId: s.accountId, to: ['customer@example.com'], subject: 'Re: お問い合わせ', text: 'ご連絡ありがとうございます。', ...extra } });
  const res = await post({ replyTo: ' Support@Example.COM ', inReplyTo: 'q-2@mail.example.jp', references: ['<q-1@mail.example.jp>', ' q-2@mail.example.jp '] });
  assert.equal(res.status, 201, res.raw);
  const raw = (await s.h.app.inject({ url: `/api/v1/deliveries/${res.json.id}/raw`, headers: s.h.auth })).rawPayload.toString('latin1');
  const head = raw.slice(0, raw.indexOf('\r\n\r\n'));
  assert.match(head, /^Reply-To: Support@example\.com$/m);
  assert.match(head, /^In-Reply-To: <q-2@mail\.example\.jp>$/m);
  assert.match(head, /^References: <q-1@mail\.example\.jp> <q-2@mail\.example\.jp>$/m);
  // none of them: none of the headers
  const plain = await post({ replyTo: null, inReplyTo: null, references: [] });
  assert.equal(plain.status, 201, plain.raw);
  const plainRaw = (await s.h.app.inject({ url: `/api/v1/deliveries/${plain.json.id}/raw`, headers: s.h.auth })).rawPayload.toString('latin1');
  assert.doesNotMatch(plainRaw.slice(0, plainRaw.indexOf('\r\n\r\n')), /^(reply-to|in-reply-to|references):/im);

  const count = async () => Number((await s.h.ctx.db.kysely.selectFrom('deliveries').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()).n);
  const before = await count();
  const bad = await post({ replyTo: 'support at example.com', inReplyTo: 'no-at-sign', references: ['<a@example.jp>', 'two words@example.jp', '<a@b', 'a@b@c'] });
  assert.equal(bad.status, 400, bad.raw);
  assert.deepEqual(
    bad.json.error.fields.map((f: Json) => [f.path, f.message]),
    [
      ['replyTo', 'Reply-To has an address that is not valid: support at example.com'],
      ['inReplyTo', 'In-Reply-To is not a Message-ID (<…@…>): no-at-sign'],
      ['references.1', 'References (entry 2) is not a Message-ID (<…@…>): two words@example.jp'],
      ['references.2', 'References (entry 3) is not a Message-ID (<…@…>): <a@b'],
      ['references.3', 'References (entry 4) is not a Message-ID (<…@…>): a@b@c'],
    ],
  );
  const ja = await post({ inReplyTo: '<>' }, 'ja');
  assert.deepEqual(ja.json.error.fields.map((f: Json) => [f.path, f.message]), [['inReplyTo', '返信元のメッセージID（In-Reply-To）はメッセージID（<…@…>）ではありません: <>']]);
  assert.equal(await count(), before, 'nothing stored');
});

test('bad deliveries are 4xx naming the field; nothing is stored', async (t) => {
  const s = await setup(t);
  if (!s) return;
  const post = (body: Json, lang: 'ja' | 'en' = 'en') => api(s.h, { method: 'POST', url: '/api/v1/deliveries', body, lang });
  const bad = await post({ accountId: s.accountId, to: ['ok@example.com', 'not an address'], bcc: ['x@@y'], subject: 's', text: 't' });
  assert.equal(bad.status, 400);
  assert.equal(bad.json.error.code, 'VALIDATION');
  assert.deepEqual(bad.json.error.fields.map((f: Json) => f.path), ['to.1', 'bcc.0']);
  assert.match(bad.json.error.fields[0].message, /not an address/);
  const none = await post({ accountId: s.accountId, to: [], subject: 's' }, 'ja');
  assert.deepEqual(none.json.error.fields.map((f: Json) => [f.path, f.message]), [['to', '宛先（To、Cc、Bcc のいずれか）を1つ以上指定してください。']]);
  const account = await post({ accountId: 'missing', to: ['a@example.com'], subject: 's' });
  assert.deepEqual(account.json.error.fields.map((f: Json) => f.path), ['accountId']);
  const b64 = await post({ accountId: s.accountId, to: ['a@example.com'], subject: 's', attachments: [{ filename: 'a', contentType: 'text/plain', contentBase64: '***' }] });
  assert.deepEqual(b64.json.error.fields.map((f: Json) => f.path), ['attachments.0.contentBase64']);
  // a file name goes into the Content-Type and Content-Disposition headers: no control characters
  for (const [lang, filename, message] of [
    ['en', 'a\u0001b.txt', 'Attachment name must not contain line breaks or control characters.'],
    ['ja', 'report\u000b.pdf', '添付ファイルの名前に改行や制御文字は使えません。'],
    ['en', 'line\r\nX-Injected: 1', 'Attachment name must not contain line breaks or control characters.'],
  ] as const) {
    const res = await post({ accountId: s.accountId, to: ['a@example.com'], subject: 's', attachments: [{ filename, contentType: 'text/plain', contentBase64: 'aGk=' }] }, lang);
    assert.equal(res.status, 400, res.raw);
    assert.deepEqual(res.json.error.fields.map((f: Json) => [f.path, f.message]), [['attachments.0.filename', message]]);
  }
  const extra = await post({ accountId: s.accountId, to: ['a@example.com'], subject: 's', from: 'spoof@example.com' });
  assert.equal(extra.status, 400);
  assert.deepEqual(extra.json.error.fields.map((f: Json) => f.path), ['from']);
  const count = await s.h.ctx.db.kysely.selectFrom('deliveries').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
  assert.equal(Number(count.n), 0);
});

test('a mail over the server’s size limit is refused at POST time with its size (413)', async (t) => {
  const s = await setup(t, { maxMessageBytes: 5_000 });
  if (!s) return;
  const res = await api(s.h, {
    method: 'POST',
    url: '/api/v1/deliveries',
    lang: 'ja',
    body: { accountId: s.accountId, to: ['a@example.com'], subject: 's', attachments: [{ filename: 'big.bin', contentType: 'application/octet-stream', contentBase64: Buffer.alloc(6_000, 1).toString('base64') }] },
  });
  assert.equal(res.status, 413, res.raw);
  assert.equal(res.json.error.code, 'PAYLOAD_TOO_LARGE');
  assert.match(res.json.error.message, /メールのサイズ（\d+ バイト）が送信メールサーバーのメールサイズの制限（5000 バイト）を超えています/);
  const small = await api(s.h, { method: 'POST', url: '/api/v1/deliveries', body: { accountId: s.accountId, to: ['a@example.com'], subject: 's', text: 'short' } });
  assert.equal(small.status, 201);
});

test('a request body over a route’s own limit is a 413 quoting that route’s limit, not the global 1 MiB', async (t) => {
  const s = await setup(t);
  if (!s) return;
  const limit = 64 * 1024 * 1024;
  const res = await api(s.h, { method: 'POST', url: '/api/v1/deliveries', lang: 'en', body: { accountId: s.accountId, to: ['a@example.com'], subject: 's', text: 'x'.repeat(limit) } });
  assert.equal(res.status, 413, res.raw.slice(0, 300));
  assert.equal(res.json.error.code, 'PAYLOAD_TOO_LARGE');
  assert.match(res.json.error.message, new RegExp(`limit ${limit} bytes`));
  const global = await api(s.h, { method: 'POST', url: '/api/v1/mail-servers', lang: 'en', body: { name: 'x'.repeat(2 * 1024 * 1024) } });
  assert.equal(global.status, 413);
  assert.match(global.json.error.message, /limit 1048576 bytes/);
});

test('POST /api/v1/deliveries: a 6 MB attachment is taken (its base64 check once overflowed the regexp stack: a 500); broken base64 is a field error', async (t) => {
  const s = await setup(t);
  if (!s) return;
  const big = Buffer.alloc(6 * 1024 * 1024, 7).toString('base64');
  const ok = await api(s.h, { method: 'POST', url: '/api/v1/deliveries', body: { accountId: s.accountId, to: ['a@example.com'], subject: 's', text: 't', attachments: [{ filename: 'big.bin', contentType: 'application/octet-stream', contentBase64: big }] } });
  assert.equal(ok.status, 201, ok.raw.slice(0, 300));
  for (const bad of ['abc', 'ab=c', 'a===', '!!!!']) {
    const res = await api(s.h, { method: 'POST', url: '/api/v1/deliveries', lang: 'en', body: { accountId: s.accountId, to: ['a@example.com'], subject: 's', text: 't', attachments: [{ filename: 'x', contentType: 'text/plain', contentBase64: bad }] } });
    assert.equal(res.status, 400, `${bad}: ${res.raw}`);
    assert.deepEqual(res.json.error.fields.map((f: Json) => f.path), ['attachments.0.contentBase64']);
  }
});

test('POST /api/v1/bulk-deliveries: a NUL in a CSV file (base64) is refused with its line, and nothing is stored', async (t) => {
  const s = await setup(t);
  if (!s) return;
  const csv = 'email,name\r\nok@example.com,A\r\nnul@example.com,"a\u0000b"\r\n';
  for (const lang of ['ja', 'en'] as const) {
    const res = await api(s.h, { method: 'POST', url: '/api/v1/bulk-deliveries', lang, body: { accountId: s.accountId, subject: 'Hi {{name}}', text: 't', recipientsCsvBase64: Buffer.from(csv).toString('base64') } });
    assert.equal(res.status, 400, res.raw);
    const field = res.json.error.fields.find((f: Json) => f.path === 'recipientsCsvBase64');
    assert.match(field.message, lang === 'ja' ? /3行目にNUL/ : /NUL character .* on line 3/);
  }
  assert.equal((await s.h.ctx.db.kysely.selectFrom('bulk_deliveries').select('id').execute()).length, 0, 'nothing was queued');
});

test('POST /api/v1/bulk-deliveries: Shift_JIS CSV, skipped rows reported, progress on GET', async (t) => {
  const s = await setup(t);
  if (!s) return;
  await api(s.h, { method: 'POST', url: '/api/v1/suppressions', body: { addresses: ['Stop@Example.com'], reason: '配信停止' } });
  const csv = 'メールアドレス,氏名\r\nyamada@example.com,山田\r\nbad-address,誰か\r\nYAMADA@example.com,山田2\r\nstop@example.com,停止\r\nsuzuki@example.com,"鈴木, 一郎"\r\n';
  const res = await api(s.h, {
    method: 'POST',
    url: '/api/v1/bulk-deliveries',
    lang: 'en',
    body: { accountId: s.accountId, subject: '{{氏名}}様へのお知らせ', text: '{{氏名}}様', html: null, recipientsCsvBase64: iconv.encode(csv, 'cp932').toString('base64') },
  });
  assert.equal(res.status, 201, res.raw);
  assert.equal(res.json.total, 2);
  assert.deepEqual(
    res.json.skipped.map((x: Json) => [x.row, x.address, x.reason]),
    [
      [3, 'bad-address', 'invalid_address'],
      [4, 'YAMADA@example.com', 'duplicate'],
      [5, 'stop@example.com', 'suppressed'],
    ],
  );
  assert.equal(res.json.skipped[1].message, 'The same address as row 2.');
  const progress = await api(s.h, { url: `/api/v1/bulk-deliveries/${res.json.id}` });
  assert.equal(progress.status, 200);
  const p = progress.json;
  assert.deepEqual([p.status, p.total, p.sent, p.failed, p.pending, p.replyTo], ['running', 2, 0, 0, 2, null]);
  assert.equal(p.skipped.length, 3);
  const recipients = await api(s.h, { url: `/api/v1/bulk-deliveries/${res.json.id}/recipients?limit=1` });
  assert.deepEqual(recipients.json.items.map((r: Json) => [r.row, r.address, r.status]), [[2, 'yamada@example.com', 'queued']]);
  // not sent yet: no bytes, and the 404 says so (not "Delivery not found")
  const notYet = await api(s.h, { url: `/api/v1/deliveries/${recipients.json.items[0].deliveryId}/raw`, lang: 'en' });
  assert.equal(notYet.status, 404);
  assert.match(notYet.json.error.message, /has not been sent yet/);
  const next = await api(s.h, { url: `/api/v1/bulk-deliveries/${res.json.id}/recipients?limit=1&cursor=${recipients.json.nextCursor}` });
  assert.deepEqual(next.json.items.map((r: Json) => [r.row, r.address]), [[6, 'suzuki@example.com']]);
  assert.equal(next.json.nextCursor, null);

  for (const [action, status] of [
    ['pause', 'paused'],
    ['resume', 'running'],
    ['cancel', 'cancelled'],
  ] as const) {
    const r = await api(s.h, { method: 'POST', url: `/api/v1/bulk-deliveries/${res.json.id}/${action}` });
    assert.equal(r.status, 200, r.raw);
    assert.equal(r.json.status, status);
  }
  const after = (await api(s.h, { url: `/api/v1/bulk-deliveries/${res.json.id}` })).json;
  assert.deepEqual([after.cancelled, after.pending], [2, 0]);
  const conflict = await api(s.h, { method: 'POST', url: `/api/v1/bulk-deliveries/${res.json.id}/resume`, lang: 'en' });
  assert.equal(conflict.status, 409);
  assert.match(conflict.json.error.message, /cancelled and cannot be resumed/);
  // in Japanese the status is a word, not the API's value
  const ja = await api(s.h, { method: 'POST', url: `/api/v1/bulk-deliveries/${res.json.id}/pause`, lang: 'ja' });
  assert.equal(ja.status, 409);
  assert.match(ja.json.error.message, /中止/);
  assert.doesNotMatch(ja.json.error.message, /cancelled/);
});

test('POST /api/v1/bulk-deliveries: a Reply-To for every mail is kept and shown; a bad one is a field error in ja and en, and nothing is stored', async (t) => {
  const s = await setup(t);
  if (!s) return;
  const post = (replyTo: string, lang: 'ja' | 'en') =>
    api(s.h, { method: 'POST', url: '/api/v1/bulk-deliveries', lang, body: { accountId: s.accountId, subject: 'お知らせ', text: '{{name}}様', replyTo, recipientsCsv: 'email,name\na@example.com,A\n' } });
  const ok = await post(' Support@Example.COM ', 'en');
  assert.equal(ok.status, 201, ok.raw);
  assert.equal((await api(s.h, { url: `/api/v1/bulk-deliveries/${ok.json.id}` })).json.replyTo, 'Support@example.com');
  const count = async () => Number((await s.h.ctx.db.kysely.selectFrom('bulk_deliveries').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()).n);
  const before = await count();
  for (const [lang, message] of [
    ['en', 'Reply-To has an address that is not valid: support at example.com'],
    ['ja', '返信先（Reply-To）のメールアドレスが正しくありません: support at example.com'],
  ] as const) {
    const bad = await post('support at example.com', lang);
    assert.equal(bad.status, 400, bad.raw);
    assert.deepEqual(bad.json.error.fields.map((f: Json) => [f.path, f.message]), [['replyTo', message]]);
  }
  assert.equal(await count(), before, 'nothing stored');
});

test('GET /api/v1/bulk-deliveries lists them newest first with their progress, page by page; a bad cursor or limit is a field error', async (t) => {
  const s = await setup(t);
  if (!s) return;
  const empty = await api(s.h, { url: '/api/v1/bulk-deliveries' });
  assert.deepEqual(empty.json, { items: [], nextCursor: null });
  for (const subject of ['first', 'second', 'third']) {
    const r = await api(s.h, { method: 'POST', url: '/api/v1/bulk-deliveries', body: { accountId: s.accountId, subject, text: 'x', recipientsCsv: 'email\na@example.com\nb@example.com\n' } });
    assert.equal(r.status, 201, r.raw);
  }
  const rows = await s.h.ctx.db.kysely.selectFrom('bulk_deliveries').select(['id', 'subject_template']).orderBy('created_at', 'desc').orderBy('id', 'desc').execute();
  const first = await api(s.h, { url: '/api/v1/bulk-deliveries?limit=2' });
  assert.equal(first.status, 200, first.raw);
  assert.deepEqual(first.json.items.map((b: Json) => [b.id, b.subject, b.status, b.total, b.pending]), rows.slice(0, 2).map((r) => [r.id, r.subject_template, 'running', 2, 2]));
  assert.equal(typeof first.json.nextCursor, 'string');
  const second = await api(s.h, { url: `/api/v1/bulk-deliveries?limit=2&cursor=${first.json.nextCursor}` });
  assert.deepEqual([second.json.items.map((b: Json) => b.id), second.json.nextCursor], [[rows[2]!.id], null]);
  for (const [query, path] of [
    ['cursor=not-a-cursor', 'cursor'],
    ['limit=0', 'limit'],
    ['limit=101', 'limit'],
  ] as const) {
    const bad = await api(s.h, { url: `/api/v1/bulk-deliveries?${query}`, lang: 'en' });
    assert.equal(bad.status, 400, bad.raw);
    assert.deepEqual(bad.json.error.fields.map((f: Json) => f.path), [path], bad.raw);
  }
  // nothing goes out from here
  for (const r of rows) await api(s.h, { method: 'POST', url: `/api/v1/bulk-deliveries/${r.id}/cancel` });
});

test('a bulk subject template is kept as the one line every mail gets: line breaks and control characters pasted in are spaces', async (t) => {
  const s = await setup(t);
  if (!s) return;
  const res = await api(s.h, {
    method: 'POST',
    url: '/api/v1/bulk-deliveries',
    body: { accountId: s.accountId, subject: 'お知らせ\v{{name}}様\r\nご確認ください\u001c', text: 'x', recipientsCsv: 'email,name\na@example.com,山田\n' },
  });
  assert.equal(res.status, 201, res.raw);
  const bulk = (await api(s.h, { url: `/api/v1/bulk-deliveries/${res.json.id}` })).json;
  assert.equal(bulk.subject, 'お知らせ {{name}}様 ご確認ください ');
  const [recipient] = (await api(s.h, { url: `/api/v1/bulk-deliveries/${res.json.id}/recipients` })).json.items;
  assert.equal((await api(s.h, { url: `/api/v1/deliveries/${recipient.deliveryId}` })).json.subject, 'お知らせ 山田様 ご確認ください ');
});

test('bulk CSV problems are listed before anything is queued: broken rows with their numbers, unknown merge fields, no address column', async (t) => {
  const s = await setup(t);
  if (!s) return;
  const post = (body: Json) => api(s.h, { method: 'POST', url: '/api/v1/bulk-deliveries', lang: 'ja', body: { accountId: s.accountId, subject: 's', ...body } });
  const broken = await post({ recipientsCsv: 'email,name\na@example.com,A\nb@example.com,B,extra\nc@example.com,"C\n' });
  assert.equal(broken.status, 400);
  assert.deepEqual(broken.json.error.fields.map((f: Json) => f.path), ['recipientsCsv', 'recipientsCsv']);
  assert.match(broken.json.error.fields[0].message, /宛先CSVの3行目.*項目が3個あります（見出し行は2個）/);
  assert.match(broken.json.error.fields[1].message, /宛先CSVの4行目.*閉じられていません/);
  const unterminated = await post({ recipientsCsv: 'email,name\na@example.com,A\nc@example.com,"C\nd@example.com,D\n' });
  assert.match(unterminated.json.error.fields[0].message, /宛先CSVの3行目.*閉じられていません/);
  const missing = await post({ subject: '{{name}}様', text: '{{会社}} {{name}}', recipientsCsv: 'email,name\na@example.com,A\n' });
  assert.deepEqual(missing.json.error.fields.map((f: Json) => [f.path, f.message]), [['text', '本文の差し込み項目 {{会社}} が宛先CSVの列にありません。']]);
  const noColumn = await post({ recipientsCsv: 'name,phone\nA,1\n' });
  assert.match(noColumn.json.error.fields[0].message, /メールアドレスの列がありません.*name, phone/);
  const wrongColumn = await post({ addressColumn: 'nope', recipientsCsv: 'to,name\na@example.com,A\n' });
  assert.deepEqual(wrongColumn.json.error.fields.map((f: Json) => [f.path, f.message]), [['addressColumn', '宛先CSVに列「nope」がありません。列: to, name']]);
  const column = await post({ addressColumn: 'to', recipientsCsv: 'to,name\na@example.com,A\n' });
  assert.equal(column.status, 201, column.raw);
  const allSkipped = await post({ recipientsCsv: 'email\nnope\n' });
  assert.equal(allSkipped.status, 400);
  assert.deepEqual(allSkipped.json.error.skipped.map((x: Json) => x.reason), ['invalid_address']);
  const neither = await post({});
  assert.deepEqual(neither.json.error.fields.map((f: Json) => f.path), ['recipientsCsv']);
  const bulks = await s.h.ctx.db.kysely.selectFrom('bulk_deliveries').select('id').execute();
  assert.equal(bulks.length, 1);
});

test('the suppression list: add, list, remove; the OpenAPI document lists the sending routes', async (t) => {
  const s = await setup(t);
  if (!s) return;
  const add = await api(s.h, { method: 'POST', url: '/api/v1/suppressions', body: { addresses: ['a@example.com', 'A@Example.com', 'b@example.com'] } });
  assert.deepEqual(add.json, { added: 2, alreadyListed: 0 });
  // one already there is not counted again, and keeps its reason
  const again = await api(s.h, { method: 'POST', url: '/api/v1/suppressions', body: { addresses: ['B@example.com', 'c@example.com'], reason: 'again' } });
  assert.deepEqual(again.json, { added: 1, alreadyListed: 1 });
  assert.equal((await api(s.h, { method: 'DELETE', url: '/api/v1/suppressions/c@example.com' })).json.removed, 1);
  const list = await api(s.h, { url: '/api/v1/suppressions' });
  assert.deepEqual(list.json.items.map((x: Json) => x.address), ['a@example.com', 'b@example.com']);
  const bad = await api(s.h, { method: 'POST', url: '/api/v1/suppressions', body: { addresses: ['nope'] } });
  assert.equal(bad.status, 400);
  const del = await api(s.h, { method: 'DELETE', url: '/api/v1/suppressions/A%40example.com' });
  assert.deepEqual(del.json, { removed: 1 });
  const doc = JSON.parse((await s.h.app.inject({ url: '/api/openapi.json' })).body) as Json;
  for (const [path, method] of [
    ['/api/v1/deliveries', 'post'],
    ['/api/v1/deliveries/{id}', 'get'],
    ['/api/v1/bulk-deliveries', 'post'],
    ['/api/v1/bulk-deliveries', 'get'],
    ['/api/v1/bulk-deliveries/{id}', 'get'],
    ['/api/v1/bulk-deliveries/{id}/recipients', 'get'],
    ['/api/v1/bulk-deliveries/{id}/pause', 'post'],
    ['/api/v1/bulk-deliveries/{id}/resume', 'post'],
    ['/api/v1/bulk-deliveries/{id}/cancel', 'post'],
  ] as const) {
    assert.ok(doc.paths[path]?.[method], `${method} ${path} is not documented`);
  }
  assert.ok(JSON.stringify(doc.paths['/api/v1/bulk-deliveries'].post.requestBody).includes('recipientsCsv'));
  // without a token nothing answers
  assert.equal((await s.h.app.inject({ method: 'POST', url: '/api/v1/deliveries', payload: {} })).statusCode, 401);
});

test('a recipient’s failure is worded in the request’s language, its own text kept as detail; a server reply stays in the server’s words', async (t) => {
  const h = await harness(t);
  if (!h) return;
  const closed = net.createServer();
  await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
  const port = (closed.address() as net.AddressInfo).port;
  await new Promise<void>((r) => closed.close(() => r()));
  const f = await addSendingAccount(h.ctx, { port });
  const created = await api(h, { method: 'POST', url: '/api/v1/deliveries', body: { accountId: f.accountId, to: ['a@example.com'], subject: 's', text: 't' } });
  assert.equal(created.status, 201, created.raw);
  await sendDeliveryNow(h.ctx, created.json.id, { timeoutMs: 20_000 });
  for (const [lang, words] of [
    ['ja', /^送信できませんでした: 接続できません（connect ECONNREFUSED 127\.0\.0\.1:\d+）$/],
    ['en', /^Sending failed: cannot connect \(connect ECONNREFUSED 127\.0\.0\.1:\d+\)$/],
  ] as const) {
    const d = await api(h, { url: `/api/v1/deliveries/${created.json.id}`, lang });
    const [r] = d.json.recipients;
    assert.equal(r.status, 'deferred');
    assert.equal(r.error.code, 'CONNECT_FAILED');
    assert.match(r.error.message, words);
    assert.match(r.error.detail, /^connect ECONNREFUSED/);
  }
});
