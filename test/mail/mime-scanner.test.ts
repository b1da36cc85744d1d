import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { MAX_MIME_DEPTH, MAX_MIME_PARTS, MimeScanner, scanMime } from '../../src/mail/mime-scanner.ts';
import type { MimePart, MimeScanResult } from '../../src/mail/mime-scanner.ts';

const crlf = (lines: string[]): Buffer => Buffer.from(lines.join('\r\n'), 'latin1');
const body = (raw: Buffer, p: MimePart): string => raw.toString('latin1', p.bodyStart, p.bodyEnd);
const header = (raw: Buffer, p: MimePart): string => raw.toString('latin1', p.headerStart, p.headerEnd);

/** The parts without parent links, for comparing two walks. */
function plain(r: MimeScanResult): unknown {
  return {
    parts: r.parts.map((p) => ({ ...p, parent: p.parent?.id ?? null, params: [...p.params] })),
    header: r.header,
    noSeparator: r.noSeparator,
    errors: r.errors,
    size: r.size,
  };
}

function inChunks(raw: Buffer, sizes: number[]): MimeScanResult {
  const s = new MimeScanner();
  let at = 0;
  let k = 0;
  while (at < raw.length) {
    const n = Math.max(1, sizes[k++ % sizes.length] ?? 1);
    s.write(raw.subarray(at, at + n));
    at += n;
  }
  return s.end();
}

const nested = crlf([
  'From: a@example.jp',
  'Content-Type: multipart/mixed; boundary="abc"',
  '',
  'preamble',
  '--abc',
  'Content-Type: multipart/alternative; boundary="abcd"',
  '',
  '--abcd',
  'Content-Type: text/plain; charset=iso-2022-jp',
  '',
  'plain text',
  '--abcd  ',
  'Content-Type: text/html',
  '',
  '<p>html</p>',
  '--abcd--',
  'epilogue of alternative',
  '--abc',
  'Content-Type: application/pdf; name="a.pdf"',
  'Content-Transfer-Encoding: base64',
  'Content-ID: <c1@example.jp>',
  '',
  'JVBERi0=',
  '--abc',
  'Content-Type: message/rfc822',
  '',
  'Subject: inner',
  'Content-Type: multipart/mixed; boundary="inner"',
  '',
  '--inner',
  'Content-Type: image/png; name="not-ours.png"',
  '',
  'xx',
  '--inner--',
  '--abc--',
  'epilogue',
]);

describe('MimeScanner', () => {
  it('walks nested multiparts with part ids, types and exact body offsets', () => {
    const r = scanMime(nested);
    assert.deepEqual(r.errors, []);
    assert.deepEqual(
      r.parts.map((p) => [p.id, p.contentType, p.multipart, p.isAttachment]),
      [
        ['', 'multipart/mixed', true, false],
        ['1', 'multipart/alternative', true, false],
        ['1.1', 'text/plain', false, false],
        ['1.2', 'text/html', false, false],
        ['2', 'application/pdf', false, true],
        ['3', 'message/rfc822', false, true],
      ],
    );
    const [, alt, text, html, pdf, rfc822] = r.parts as [MimePart, MimePart, MimePart, MimePart, MimePart, MimePart];
    assert.equal(body(nested, text), 'plain text');
    assert.equal(text.charset, 'iso-2022-jp');
    assert.equal(header(nested, text), 'Content-Type: text/plain; charset=iso-2022-jp\r\n');
    assert.equal(body(nested, html), '<p>html</p>');
    assert.equal(body(nested, pdf), 'JVBERi0=');
    assert.equal(pdf.filename, 'a.pdf');
    assert.equal(pdf.transferEncoding, 'base64');
    assert.equal(pdf.contentId, '<c1@example.jp>');
    assert.ok(body(nested, alt).endsWith('epilogue of alternative'));
    // the attached mail is one leaf: its own parts are not walked
    assert.ok(body(nested, rfc822).startsWith('Subject: inner'));
    assert.ok(body(nested, rfc822).endsWith('--inner--'));
    assert.equal(r.parts[0]!.bodyEnd, nested.length);
  });

  it('gives the same result however the mail is cut into chunks (property)', () => {
    const whole = plain(scanMime(nested));
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: 40 }), { minLength: 1, maxLength: 20 }), (sizes) => {
        assert.deepEqual(plain(inChunks(nested, sizes)), whole);
      }),
      { numRuns: 300 },
    );
  });

  it('gives the same result for generated mails of any shape cut anywhere (property)', () => {
    const line = fc.constantFrom('text', '--b', '--b--', '--bb', '--c', '--c--', '', 'Content-Type: multipart/mixed; boundary=c', 'Content-Type: text/plain', '-', '--', 'x: y', ' folded');
    const mail = fc.tuple(fc.array(line, { maxLength: 30 }), fc.constantFrom('\r\n', '\n')).map(([lines, eol]) =>
      Buffer.from(['Subject: s', 'Content-Type: multipart/mixed; boundary=b', '', ...lines].join(eol)),
    );
    fc.assert(
      fc.property(mail, fc.array(fc.integer({ min: 1, max: 17 }), { minLength: 1, maxLength: 8 }), (raw, sizes) => {
        assert.deepEqual(plain(inChunks(raw, sizes)), plain(scanMime(raw)));
      }),
      { numRuns: 500 },
    );
  });

  it('ends a part before the line break that precedes a boundary, LF or CRLF', () => {
    for (const eol of ['\n', '\r\n']) {
      const raw = Buffer.from(['Content-Type: multipart/mixed; boundary=b', '', '--b', '', 'line1', 'line2', '', '--b--'].join(eol));
      const part = scanMime(raw).parts[1]!;
      assert.equal(body(raw, part), `line1${eol}line2${eol}`);
    }
  });

  it('reads a close delimiter at the very end without a line break, and tolerates no close at all', () => {
    const closed = Buffer.from('Content-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: image/gif\n\nGIF\n--b--');
    const r = scanMime(closed);
    assert.deepEqual(r.errors, []);
    assert.equal(body(closed, r.parts[1]!), 'GIF');
    const open = Buffer.from('Content-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: image/gif\n\nGIF\n');
    const r2 = scanMime(open);
    assert.deepEqual(r2.errors, []);
    assert.equal(body(open, r2.parts[1]!), 'GIF\n');
  });

  it('ends a part header at a boundary line when the empty line is missing', () => {
    const raw = Buffer.from('Content-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: application/zip; name=a.zip\n--b\nContent-Type: text/plain\n\nhi\n--b--\n');
    const r = scanMime(raw);
    assert.deepEqual(r.parts.map((p) => [p.id, p.contentType, p.filename]), [
      ['', 'multipart/mixed', null],
      ['1', 'application/zip', 'a.zip'],
      ['2', 'text/plain', null],
    ]);
    assert.equal(body(raw, r.parts[1]!), '');
    assert.equal(body(raw, r.parts[2]!), 'hi');
  });

  it('applies the defaults: text/plain, message/rfc822 in a digest, attachment rules as mailparser', () => {
    const raw = crlf([
      'Content-Type: multipart/digest; boundary=d',
      '',
      '--d',
      '',
      'Subject: digest entry',
      '--d',
      'Content-Type: multipart/mixed; boundary=m',
      '',
      '--m',
      '',
      'default text',
      '--m',
      'Content-Disposition: attachment; filename=notes.txt',
      'Content-Type: text/plain',
      '',
      'notes',
      '--m',
      'Content-Disposition: inline; filename=photo.jpg',
      '',
      'jpeg',
      '--m',
      'Content-Type: text/plain; name=memo.txt',
      '',
      'an inline text part with a name is body text',
      '--m--',
      '--d--',
    ]);
    const r = scanMime(raw);
    assert.deepEqual(
      r.parts.map((p) => [p.id, p.contentType, p.isAttachment]),
      [
        ['', 'multipart/digest', false],
        ['1', 'message/rfc822', true],
        ['2', 'multipart/mixed', false],
        ['2.1', 'text/plain', false],
        ['2.2', 'text/plain', true],
        ['2.3', 'application/octet-stream', true],
        ['2.4', 'text/plain', false],
      ],
    );
  });

  it('reports a multipart without a boundary parameter or without any boundary line', () => {
    assert.match(scanMime(Buffer.from('Content-Type: multipart/mixed\n\nbody')).errors.join(), /no usable boundary/);
    assert.match(scanMime(Buffer.from('Content-Type: multipart/mixed; boundary=x\n\n--y\nbody\n')).errors.join(), /no boundary line/);
  });

  it('stops walking after MAX_MIME_PARTS parts and says so', () => {
    const parts: string[] = [];
    for (let i = 0; i < 10_000; i++) parts.push('--b', 'Content-Type: application/octet-stream; name=f' + i, '', 'x');
    const raw = Buffer.from(['Content-Type: multipart/mixed; boundary=b', '', ...parts, '--b--'].join('\n'));
    const r = scanMime(raw);
    assert.equal(r.parts.length, MAX_MIME_PARTS);
    assert.match(r.errors.join(), /more than 5000 MIME parts/);
    assert.equal(r.size, raw.length);
  });

  it('stops nesting at MAX_MIME_DEPTH', () => {
    const lines: string[] = ['Content-Type: multipart/mixed; boundary=b0', ''];
    for (let i = 1; i <= 100; i++) lines.push(`--b${i - 1}`, `Content-Type: multipart/mixed; boundary=b${i}`, '');
    lines.push('--b100', 'Content-Type: text/plain', '', 'deep');
    const r = scanMime(Buffer.from(lines.join('\n')));
    assert.match(r.errors.join(), /nesting deeper than 32/);
    assert.ok(r.parts.filter((p) => p.multipart).length <= MAX_MIME_DEPTH);
  });

  it('reads a 100,000-line header and keeps only the first part of an over-long one', () => {
    const lines = Array.from({ length: 100_000 }, (_, i) => `X-Line-${i}: value ${i}`);
    const raw = Buffer.from(['Subject: many lines', ...lines, '', 'body'].join('\r\n'));
    const r = scanMime(raw);
    assert.equal(r.header.fields[0]!.value, 'many lines');
    assert.ok(r.header.fields.length <= 5_000);
    assert.ok(r.errors.length > 0);
    assert.equal(r.root.bodyStart, raw.length - 4);
  });

  it('walks a long line without line breaks in bounded pieces', () => {
    const raw = Buffer.concat([Buffer.from('Content-Type: multipart/mixed; boundary=b\n\n--b\n\n'), Buffer.alloc(3_000_000, 0x41), Buffer.from('\n--b--\n')]);
    const r = inChunks(raw, [65_536]);
    assert.equal(r.parts.length, 2);
    assert.equal(r.parts[1]!.bodyEnd - r.parts[1]!.bodyStart, 3_000_000);
  });
});
