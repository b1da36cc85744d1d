// Test-side ISO-2022-JP encoder, written apart from src/mail/charset.ts so tests do not check the
// decoder against itself: text → CP932 with iconv-lite → JIS by the Shift_JIS → JIS formula, IBM
// extensions moved to their NEC-selected copies (as Windows' CP50221 does), half-width katakana
// as ESC ( I. Used by the tests and by test/fixtures/japanese/make-corpus.ts.
import iconv from 'iconv-lite';

let necSelected: Map<string, [number, number]> | null = null;

/** CP932 IBM extensions (0xFA40-0xFC4B) → the NEC-selected copies (0xED40-0xEEFC) JIS can carry. */
function necSelectedTable(): Map<string, [number, number]> {
  if (necSelected) return necSelected;
  const table = new Map<string, [number, number]>();
  for (let s1 = 0xed; s1 <= 0xee; s1++) {
    for (let s2 = 0x40; s2 <= 0xfc; s2++) {
      if (s2 === 0x7f) continue;
      const ch = iconv.decode(Buffer.from([s1, s2]), 'cp932');
      if (ch.length === 1 && ch !== '\ufffd' && !table.has(ch)) table.set(ch, [s1, s2]);
    }
  }
  necSelected = table;
  return table;
}

/** ISO-2022-JP as Windows writes it (CP50221). Throws for a character JIS cannot carry. */
export function encodeIso2022jp(text: string): Buffer {
  const out: number[] = [];
  let mode: 'ascii' | 'kanji' | 'kana' = 'ascii';
  const to = (m: typeof mode): void => {
    if (mode === m) return;
    mode = m;
    if (m === 'ascii') out.push(0x1b, 0x28, 0x42);
    else if (m === 'kanji') out.push(0x1b, 0x24, 0x42);
    else out.push(0x1b, 0x28, 0x49);
  };
  for (const ch of text) {
    const cp = ch.codePointAt(0)!;
    if (cp < 0x80) {
      to('ascii');
      out.push(cp);
      continue;
    }
    if (cp >= 0xff61 && cp <= 0xff9f) {
      to('kana');
      out.push(cp - 0xff61 + 0x21);
      continue;
    }
    let sj = [...iconv.encode(ch, 'cp932')];
    if (sj.length === 2 && sj[0]! >= 0xfa) sj = necSelectedTable().get(ch) ?? sj;
    if (sj.length !== 2 || sj[0]! >= 0xf0) throw new Error(`not encodable in ISO-2022-JP: ${ch}`);
    const [lead, s2] = sj as [number, number];
    const s1 = lead - (lead >= 0xe0 ? 0xb0 : 0x70);
    const j1 = s1 * 2 - (s2 < 0x9f ? 1 : 0);
    const j2 = s2 < 0x9f ? s2 - (s2 >= 0x80 ? 0x20 : 0x1f) : s2 - 0x7e;
    to('kanji');
    out.push(j1, j2);
  }
  to('ascii');
  return Buffer.from(out);
}
