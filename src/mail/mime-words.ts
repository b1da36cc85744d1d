// nodemailer 7.0.13's RFC 2047 B encoding (mime-funcs.encodeWord) splits a long header value
// into encoded-words by UTF-16 code units, keeping only the surrogate pairs of \ud83c–\ud83e
// (most emoji) together: any other character beyond the BMP — 𠮷 (U+20BB7, as in 𠮷田), 𩸽,
// the rest of CJK Ext. B–G, tag characters of flag emoji — was cut in two at a word boundary
// and each half written as U+FFFD, so the Subject or the From name arrived altered
// (RFC 2047 §6.3 wants whole characters in each word). This module replaces that one branch,
// splitting by code points, and leaves every other output of nodemailer byte for byte as it
// was (the same word length and the same rule for when to split). Imported by compose.ts,
// before nodemailer writes any header; compose-bulk.ts calls the same function.
import mimeFuncs from 'nodemailer/lib/mime-funcs/index.js';

type EncodeWord = (data: string | Buffer, mimeWordEncoding?: string, maxLength?: number) => string;

const funcs = mimeFuncs as unknown as { encodeWord: EncodeWord & { yubinWholeCharacters?: true } };

if (!funcs.encodeWord.yubinWholeCharacters) {
  const original = funcs.encodeWord;
  const patched = function (this: unknown, data: string | Buffer, mimeWordEncoding?: string, maxLength?: number): string {
    const encoding = (mimeWordEncoding || 'Q').toString().toUpperCase().trim().charAt(0);
    if (encoding !== 'B' || typeof data !== 'string' || !maxLength) return original.call(this, data, mimeWordEncoding, maxLength);
    return encodeWordB(data, maxLength);
  } as EncodeWord & { yubinWholeCharacters?: true };
  patched.yubinWholeCharacters = true;
  funcs.encodeWord = patched;
}

/** nodemailer's B branch, by code points: each encoded-word holds whole characters. */
export function encodeWordB(data: string, maxLength: number): string {
  const charset = 'UTF-8';
  let max = maxLength;
  if (max > 7 + charset.length) max -= 7 + charset.length;
  max = Math.max(3, ((max - (max % 4)) / 4) * 3);
  const whole = Buffer.from(data, 'utf-8').toString('base64');
  if (whole.length <= max) return `=?${charset}?B?${whole}?=`;
  const parts: string[] = [];
  let part = '';
  let bytes = 0;
  for (const ch of data) {
    const n = Buffer.byteLength(ch);
    if (part !== '' && bytes + n > max) {
      parts.push(Buffer.from(part, 'utf-8').toString('base64'));
      part = '';
      bytes = 0;
    }
    part += ch;
    bytes += n;
  }
  if (part !== '') parts.push(Buffer.from(part, 'utf-8').toString('base64'));
  return `=?${charset}?B?${parts.join(`?= =?${charset}?B?`)}?=`;
}
