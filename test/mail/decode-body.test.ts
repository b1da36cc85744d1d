import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import iconv from 'iconv-lite';
import { decodeMessage } from '../../src/mail/decode-body.ts';
import { encodeIso2022jp } from './jis-encoder.ts';

const mail = (lines: Array<string | Buffer>, eol = '\r\n'): Buffer =>
  Buffer.concat(lines.flatMap((l) => [typeof l === 'string' ? Buffer.from(l, 'latin1') : l, Buffer.from(eol)]));
const jisLatin1 = (s: string): string => encodeIso2022jp(s).toString('latin1');
const qp = (b: Buffer): string => [...b].map((x) => '=' + x.toString(16).toUpperCase().padStart(2, '0')).join('');

describe('decodeMessage', () => {
  it('decodes an old-style mail in undeclared 7-bit ISO-2022-JP: subject, sender and body', async () => {
    const raw = mail([
      `Subject: ${jisLatin1('会議のお知らせ①')}`,
      `From: ${jisLatin1('佐藤')} <sato@example.jp>`,
      'To: all@example.jp',
      'Date: Mon, 22 Jan 2024 09:00:00 +0900',
      '',
      jisLatin1('明日十時から会議です。㈱サンプル'),
      jisLatin1('以上'),
    ]);
    const d = await decodeMessage(raw);
    assert.deepEqual(d, {
      subject: '会議のお知らせ①',
      from: { name: '佐藤', address: 'sato@example.jp' },
      to: [{ name: '', address: 'all@example.jp' }],
      cc: [],
      date: '2024-01-22T00:00:00.000Z',
      messageId: null,
      text: '明日十時から会議です。㈱サンプル\n以上\n',
      html: null,
      attachments: [],
      error: null,
    });
  });

  it('decodes ISO-2022-JP text and 8-bit Shift_JIS HTML alternatives', async () => {
    const raw = mail([
      'Subject: alt',
      'Content-Type: multipart/alternative; boundary=alt',
      '',
      '--alt',
      'Content-Type: text/plain; charset=ISO-2022-JP',
      '',
      jisLatin1('本文①～纊 ﾊﾝｶｸ'),
      '--alt',
      'Content-Type: text/html; charset=Shift_JIS',
      'Content-Transfer-Encoding: 8bit',
      '',
      iconv.encode('<p>表示ソフト～①</p>', 'cp932').toString('latin1'),
      '--alt--',
    ]);
    const d = await decodeMessage(raw);
    assert.equal(d.text, '本文①～纊 ﾊﾝｶｸ');
    assert.equal(d.html, '<p>表示ソフト～①</p>');
    assert.equal(d.error, null);
  });

  it('decodes quoted-printable Shift_JIS and keeps format=flowed working', async () => {
    const qpMail = mail(['Content-Type: text/plain; charset=shift_jis', 'Content-Transfer-Encoding: quoted-printable', '', qp(iconv.encode('表示ソフト', 'cp932'))]);
    assert.equal((await decodeMessage(qpMail)).text, '表示ソフト\n');
    const flowed = mail(['Content-Type: text/plain; charset=iso-2022-jp; format=flowed', '', `${jisLatin1('一行目が')} `, jisLatin1('続きます')]);
    assert.equal((await decodeMessage(flowed)).text, '一行目が 続きます');
    const delsp = mail(['Content-Type: text/plain; charset=iso-2022-jp; format=flowed; delsp=yes', '', `${jisLatin1('一行目が')} `, jisLatin1('続きます')]);
    assert.equal((await decodeMessage(delsp)).text, '一行目が続きます');
  });

  it('generates text from an ISO-2022-JP HTML-only mail', async () => {
    const raw = mail(['Content-Type: text/html; charset=iso-2022-jp', '', `<html><body><p>${jisLatin1('ご案内①')}</p></body></html>`]);
    const d = await decodeMessage(raw);
    assert.equal(d.html, '<html><body><p>ご案内①</p></body></html>\n');
    assert.equal(d.text, 'ご案内①');
  });

  it('names attachments as decoded here: raw Shift_JIS, RFC 2231 ISO-2022-JP, encoded-words', async () => {
    const rfc2231 = [...encodeIso2022jp('報告書①.docx')].map((b) => '%' + b.toString(16).padStart(2, '0')).join('');
    const raw = mail([
      'Content-Type: multipart/mixed; boundary=m',
      '',
      '--m',
      'Content-Type: text/plain; charset=utf-8',
      '',
      'see attached',
      '--m',
      Buffer.concat([Buffer.from('Content-Type: application/octet-stream; name="'), iconv.encode('表.bin', 'cp932'), Buffer.from('"')]),
      'Content-Disposition: attachment',
      '',
      'AAAA',
      '--m',
      `Content-Type: application/msword`,
      `Content-Disposition: attachment; filename*=iso-2022-jp''${rfc2231}`,
      'Content-Transfer-Encoding: base64',
      '',
      Buffer.from('doc bytes').toString('base64'),
      '--m',
      `Content-Type: text/plain; charset=iso-2022-jp; name="=?ISO-2022-JP?B?${encodeIso2022jp('メモ㈱.txt').toString('base64')}?="`,
      'Content-Disposition: attachment',
      '',
      jisLatin1('メモ'),
      '--m--',
    ]);
    const d = await decodeMessage(raw);
    assert.equal(d.text, 'see attached');
    assert.deepEqual(d.attachments, [
      { filename: '表.bin', contentType: 'application/octet-stream', size: 4, contentId: null },
      { filename: '報告書①.docx', contentType: 'application/msword', size: 9, contentId: null },
      // an attachment keeps its exact bytes: its text is not re-encoded
      { filename: 'メモ㈱.txt', contentType: 'text/plain', size: encodeIso2022jp('メモ').length, contentId: null },
    ]);
    assert.equal(d.error, null);
  });

  it('sniffs a body whose charset is unknown or a lie', async () => {
    const unknown = mail(['Content-Type: text/plain; charset=x-unknown', 'Content-Transfer-Encoding: 8bit', '', iconv.encode('表示ソフトの件', 'cp932').toString('latin1')]);
    assert.equal((await decodeMessage(unknown)).text, '表示ソフトの件\n');
    const utf8AsAscii = mail(['Content-Type: text/plain; charset=us-ascii', '', Buffer.from('日本語の本文', 'utf8')]);
    assert.equal((await decodeMessage(utf8AsAscii)).text, '日本語の本文\n');
    const sjisAsUtf8 = mail(['Content-Type: text/plain; charset=utf-8', '', iconv.encode('お申し込みありがとうございます', 'cp932')]);
    assert.equal((await decodeMessage(sjisAsUtf8)).text, 'お申し込みありがとうございます\n');
  });

  it('leaves other charsets to mailparser', async () => {
    const raw = mail(['Subject: =?iso-8859-1?q?caf=E9?=', 'Content-Type: text/plain; charset=iso-8859-1', 'Content-Transfer-Encoding: quoted-printable', '', 'caf=E9 cr=E8me']);
    const d = await decodeMessage(raw);
    assert.equal(d.subject, 'café');
    assert.equal(d.text, 'café crème\n');
  });

  it('falls back to its own decoding when mailparser gives up (a 3 MB header field)', async () => {
    const raw = Buffer.concat([
      Buffer.from(`Subject: =?ISO-2022-JP?B?${encodeIso2022jp('巨大ヘッダー').toString('base64')}?=\r\nX-Huge: ${'a'.repeat(3 * 1024 * 1024)}\r\n`),
      Buffer.from('Content-Type: text/plain; charset=iso-2022-jp\r\n\r\n'),
      encodeIso2022jp('本文は読めます①'),
    ]);
    const d = await decodeMessage(raw);
    assert.equal(d.subject, '巨大ヘッダー');
    assert.equal(d.text, '本文は読めます①');
    assert.match(d.error ?? '', /mailparser failed/);
  });

  it('decodes base64 encoded piece by piece (padding before more data), also under a UTF-8 label', async () => {
    const text = '日本語のテキスト①です';
    for (const charset of ['Shift_JIS', 'UTF-8']) {
      const data = charset === 'UTF-8' ? Buffer.from(text) : iconv.encode(text, 'cp932');
      const lines = [data.subarray(0, 4), data.subarray(4, 11), data.subarray(11)].map((b) => b.toString('base64'));
      assert.ok(lines[0]!.endsWith('='));
      const d = await decodeMessage(mail(['Subject: x', `Content-Type: text/plain; charset=${charset}`, 'Content-Transfer-Encoding: base64', '', ...lines]));
      assert.equal(d.text, text, charset);
    }
    // a stray "=" between whole quanta is skipped, as before
    const stray = await decodeMessage(mail(['Content-Type: text/plain; charset=utf-8', 'Content-Transfer-Encoding: base64', '', '5pel5pys=6Kqe']));
    assert.equal(stray.text, '日本語');
  });

  it('decodes the Japanese parts of an inline attached mail, which mailparser shows as part of the text', async () => {
    const raw = mail([
      'Subject: fwd',
      'Content-Type: multipart/mixed; boundary=outer',
      '',
      '--outer',
      'Content-Type: text/plain; charset=us-ascii',
      '',
      'see below',
      '--outer',
      'Content-Type: message/rfc822',
      'Content-Disposition: inline',
      '',
      'Subject: inner',
      'From: a@example.jp',
      'Content-Type: multipart/mixed; boundary=inner',
      '',
      '--inner',
      'Content-Type: text/plain',
      'Content-Transfer-Encoding: 8bit',
      '',
      iconv.encode('表示ソフト①～', 'cp932'),
      '--inner',
      `Content-Type: application/octet-stream; name="${iconv.encode('表.xls', 'cp932').toString('latin1')}"`,
      'Content-Disposition: attachment',
      'Content-Transfer-Encoding: base64',
      '',
      'eHg=',
      '--inner--',
      '--outer--',
    ]);
    const d = await decodeMessage(raw);
    assert.match(d.text ?? '', /see below[\s\S]*表示ソフト①～/);
    assert.deepEqual(d.attachments.map((a) => a.filename), ['表.xls']);
    assert.equal(d.error, null);
  });

  it('shows the body of a multipart mail in which no part was found, with the error', async () => {
    for (const ct of ['multipart/mixed; boundary=x', 'multipart/mixed']) {
      const d = await decodeMessage(mail(['Subject: x', `Content-Type: ${ct}`, '', jisLatin1('本文です')]));
      assert.equal(d.text, '本文です\r\n');
      assert.notEqual(d.error, null);
    }
  });

  it('never rejects: noise and broken mail give what can be had and an error', async () => {
    const noise = await decodeMessage(Buffer.from([0xff, 0x00, 0x1b, 0x24, 0x42, 0x0a, 0x0a, 0x80]));
    assert.notEqual(noise.error, null);
    assert.equal(noise.subject, null);
    const broken = await decodeMessage(Buffer.from('Subject: =?UTF-8?B?5aOK44KM44Gf?=\nContent-Type: multipart/mixed; boundary=x\nbody without separator\n--y\n'));
    assert.equal(broken.subject, '壊れた');
    assert.notEqual(broken.error, null);
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 600 }), async (data) => {
        const d = await decodeMessage(Buffer.from(data));
        assert.ok(Array.isArray(d.attachments));
      }),
      { numRuns: 60 },
    );
  });
});
