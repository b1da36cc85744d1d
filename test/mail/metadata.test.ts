import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync, readdirSync } from 'node:fs';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import iconv from 'iconv-lite';
import { MAX_ATTACHMENT_NAMES, createMetadataCollector, extractMetadata } from '../../src/mail/metadata.ts';
import { encodeIso2022jp } from './jis-encoder.ts';

const mail = (lines: Array<string | Buffer>, eol = '\r\n'): Buffer =>
  Buffer.concat(lines.flatMap((l) => [typeof l === 'string' ? Buffer.from(l, 'latin1') : l, Buffer.from(eol)]));

const corpus = readdirSync(new URL('../fixtures/japanese/', import.meta.url))
  .filter((f) => f.endsWith('.eml'))
  .map((f) => readFileSync(new URL(`../fixtures/japanese/${f}`, import.meta.url)));

describe('extractMetadata', () => {
  it('reads the header fields, size and SHA-256 of the exact bytes', () => {
    const raw = mail([
      'Received: from mx.example.net by mail.example.jp; Mon, 15 Jan 2024 09:30:01 +0900',
      'From: =?UTF-8?B?5bGx55SwIOWkqumDjg==?= <yamada@example.jp>',
      'To: a@example.jp, "B" <b@example.jp>',
      'To: c@example.jp',
      'CC: =?ISO-2022-JP?B?GyRCOzNFRBsoQg==?= <cc@example.jp>',
      'Subject: =?UTF-8?Q?Re:_=E8=A6=8B=E7=A9=8D?=',
      'Date: Mon, 15 Jan 2024 09:30:00 +0900',
      'Message-ID: <1234@example.jp>',
      '',
      'hello',
    ]);
    assert.deepEqual(extractMetadata(raw), {
      from: { name: '山田 太郎', address: 'yamada@example.jp' },
      to: [
        { name: '', address: 'a@example.jp' },
        { name: 'B', address: 'b@example.jp' },
        { name: '', address: 'c@example.jp' },
      ],
      cc: [{ name: '山田', address: 'cc@example.jp' }],
      subject: 'Re: 見積',
      date: '2024-01-15T00:30:00.000Z',
      messageId: '<1234@example.jp>',
      size: raw.length,
      sha256: createHash('sha256').update(raw).digest('hex'),
      attachmentNames: [],
      hasAttachments: false,
      parseError: null,
    });
  });

  it('gives nulls and empty lists for missing fields without calling that an error', () => {
    const m = extractMetadata(Buffer.from('X-Only: 1\r\n\r\nbody'));
    assert.deepEqual([m.from, m.to, m.cc, m.subject, m.date, m.messageId, m.parseError], [null, [], [], null, null, null, null]);
  });

  it('reads raw Shift_JIS and raw JIS headers', () => {
    const raw = mail([Buffer.concat([Buffer.from('Subject: '), iconv.encode('表示テスト', 'cp932')]), Buffer.concat([Buffer.from('From: '), encodeIso2022jp('佐藤'), Buffer.from(' <s@example.jp>')]), '', 'x']);
    const m = extractMetadata(raw);
    assert.equal(m.subject, '表示テスト');
    assert.deepEqual(m.from, { name: '佐藤', address: 's@example.jp' });
  });

  it('lists attachment names from part headers, nested parts included, in order', () => {
    const raw = mail([
      'Content-Type: multipart/mixed; boundary=outer',
      '',
      '--outer',
      'Content-Type: multipart/related; boundary=inner',
      '',
      '--inner',
      'Content-Type: text/html; charset=utf-8',
      '',
      '<img src="cid:logo">',
      '--inner',
      'Content-Type: image/png; name="=?UTF-8?B?44Ot44K0LnBuZw==?="',
      'Content-ID: <logo>',
      '',
      'png',
      '--inner--',
      '--outer',
      "Content-Disposition: attachment; filename*=UTF-8''%E8%AB%8B%E6%B1%82%E6%9B%B8.pdf",
      'Content-Type: application/pdf',
      '',
      'pdf',
      '--outer',
      'Content-Type: application/octet-stream',
      '',
      'unnamed',
      '--outer--',
    ]);
    const m = extractMetadata(raw);
    assert.deepEqual(m.attachmentNames, ['ロゴ.png', '請求書.pdf']);
    assert.equal(m.hasAttachments, true);
    assert.equal(m.parseError, null);
  });

  it('counts a whole-mail non-text body as an attachment, an inline text part as none', () => {
    assert.equal(extractMetadata(Buffer.from('Content-Type: application/pdf; name=a.pdf\r\n\r\nJVBE')).hasAttachments, true);
    assert.deepEqual(extractMetadata(Buffer.from('Content-Type: application/pdf; name=a.pdf\r\n\r\nJVBE')).attachmentNames, ['a.pdf']);
    assert.equal(extractMetadata(Buffer.from('Content-Type: text/plain; name=a.txt\r\n\r\nhi')).hasAttachments, false);
  });

  it('keeps at most MAX_ATTACHMENT_NAMES names', () => {
    const parts: string[] = [];
    for (let i = 0; i < 800; i++) parts.push('--b', `Content-Type: application/octet-stream; name=f${i}.bin`, '', 'x');
    const m = extractMetadata(mail(['Content-Type: multipart/mixed; boundary=b', '', ...parts, '--b--']));
    assert.equal(m.attachmentNames.length, MAX_ATTACHMENT_NAMES);
    assert.equal(m.attachmentNames[0], 'f0.bin');
    assert.equal(m.hasAttachments, true);
  });

  it('sets parseError for a mail that cannot be read, and still extracts what it can', () => {
    const noSep = extractMetadata(Buffer.from('Subject: hi\nthis is body text\nmore body'));
    assert.equal(noSep.subject, 'hi');
    assert.match(noSep.parseError ?? '', /no empty line between header and body/);
    const binary = extractMetadata(Buffer.from([0x00, 0xff, 0x10, 0x80, 0x0a, 0x0a, 0x41]));
    assert.equal(binary.parseError, 'no header fields');
    assert.equal(binary.size, 7);
    const empty = extractMetadata(Buffer.alloc(0));
    assert.equal(empty.parseError, 'no header fields');
    assert.equal(empty.sha256, createHash('sha256').digest('hex'));
  });

  it('handles a mail with 100,000 header lines and one with 10,000 MIME parts', () => {
    const lines = Array.from({ length: 100_000 }, (_, i) => `Received: hop ${i}`);
    const big = extractMetadata(Buffer.from(['Subject: long', ...lines, '', 'body'].join('\r\n')));
    assert.equal(big.subject, 'long');
    assert.notEqual(big.parseError, null);
    const parts: string[] = [];
    for (let i = 0; i < 10_000; i++) parts.push('--b', 'Content-Type: image/gif', '', 'x');
    const many = extractMetadata(mail(['Subject: parts', 'Content-Type: multipart/mixed; boundary=b', '', ...parts, '--b--']));
    assert.equal(many.subject, 'parts');
    assert.equal(many.hasAttachments, true);
    assert.match(many.parseError ?? '', /MIME parts/);
  });

  it('never throws, for noise or for corpus mails with bytes changed (property)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 2000 }), (data) => {
        const m = extractMetadata(Buffer.from(data));
        assert.equal(m.size, data.length);
      }),
      { numRuns: 300 },
    );
    fc.assert(
      fc.property(fc.constantFrom(...corpus), fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 20 }), (orig, changes) => {
        const raw = Buffer.from(orig);
        for (const [at, value] of changes) raw[at % raw.length] = value;
        const m = extractMetadata(raw);
        assert.equal(m.sha256, createHash('sha256').update(raw).digest('hex'));
      }),
      { numRuns: 300 },
    );
  });
});

describe('createMetadataCollector', () => {
  it('equals extractMetadata for any chunking (property)', () => {
    fc.assert(
      fc.property(fc.constantFrom(...corpus), fc.array(fc.integer({ min: 1, max: 300 }), { minLength: 1, maxLength: 10 }), (raw, sizes) => {
        const c = createMetadataCollector();
        let at = 0;
        for (let k = 0; at < raw.length; k++) {
          const n = sizes[k % sizes.length]!;
          c.update(new Uint8Array(raw.buffer, raw.byteOffset + at, Math.min(n, raw.length - at)));
          at += n;
        }
        assert.deepEqual(c.end(), extractMetadata(raw));
      }),
      { numRuns: 200 },
    );
  });

  it('reads a 20 MB mail in 64 KB chunks: headers, attachment names, hash and size', () => {
    const head = Buffer.from(
      [
        'Subject: =?UTF-8?B?5aSn44GN44Gq5re75LuY?=',
        'Content-Type: multipart/mixed; boundary=big',
        '',
        '--big',
        'Content-Type: application/octet-stream; name=big.bin',
        'Content-Transfer-Encoding: base64',
        '',
        '',
      ].join('\r\n'),
    );
    const line = Buffer.from('QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFB\r\n');
    const block = Buffer.concat(Array.from({ length: 862 }, () => line)); // ~ 66 KB
    const tail = Buffer.from('--big\r\nContent-Type: text/plain; name="last.txt"\r\nContent-Disposition: attachment\r\n\r\nend\r\n--big--\r\n');
    const c = createMetadataCollector();
    const hash = createHash('sha256');
    let size = 0;
    const feed = (b: Buffer): void => {
      for (let i = 0; i < b.length; i += 65_536) {
        const chunk = b.subarray(i, i + 65_536);
        c.update(chunk);
        hash.update(chunk);
        size += chunk.length;
      }
    };
    feed(head);
    for (let i = 0; i < 300; i++) feed(block);
    feed(tail);
    const m = c.end();
    assert.equal(m.subject, '大きな添付');
    assert.deepEqual(m.attachmentNames, ['big.bin', 'last.txt']);
    assert.equal(m.size, size);
    assert.ok(size > 20_000_000);
    assert.equal(m.sha256, hash.digest('hex'));
    assert.equal(m.parseError, null);
  });

  it('returns the same object from repeated end() calls and ignores updates after it, and non-bytes', () => {
    const c = createMetadataCollector();
    c.update(Buffer.from('Subject: a\r\n\r\n'));
    c.update('not bytes' as unknown as Uint8Array);
    const first = c.end();
    c.update(Buffer.from('more'));
    assert.equal(c.end(), first);
    assert.equal(first.subject, 'a');
    assert.match(first.parseError ?? '', /not bytes/);
  });
});
