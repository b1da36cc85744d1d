// CSV for bulk delivery recipients (RFC 4180, as Excel and Google Sheets write it): a header
// row, fields separated by commas, optionally in double quotes, where a quoted field may hold
// commas, line breaks and doubled quotes (""). Lines end in CRLF, LF or CR. Files come as
// UTF-8, UTF-8 with a BOM (Excel's "CSV UTF-8"), Shift_JIS (Excel's Japanese default, read
// as Windows-31J / CP932, its superset), or UTF-16 with a BOM ("Unicode text").
//
// Rows are numbered as a spreadsheet shows them: the header is row 1, the first recipient
// row 2. `line` is the physical line a row starts on (they differ once a quoted field holds
// a line break). Anything the parser cannot read for sure is an error with its row and line,
// never a guess: a broken quote would shift every later field into the wrong column.
import iconv from 'iconv-lite';

export { parseCsv } from './csv-parse.ts';
export type { CsvEncoding, CsvError, CsvProblem, CsvRow, CsvTable } from './csv-parse.ts';
import type { CsvEncoding } from './csv-parse.ts';

const BOM_UTF8 = [0xef, 0xbb, 0xbf];

/** Decode a CSV file's bytes: BOMs decide; else UTF-8 if the bytes are valid UTF-8, else Shift_JIS (CP932). */
export function decodeCsv(bytes: Buffer): { text: string; encoding: CsvEncoding } {
  if (bytes.length >= 3 && BOM_UTF8.every((b, i) => bytes[i] === b)) return { text: bytes.subarray(3).toString('utf8'), encoding: 'utf-8' };
  if (bytes.length >= 2 && bytes[0] === 0xff && bytes[1] === 0xfe) return { text: iconv.decode(bytes.subarray(2), 'utf-16le'), encoding: 'utf-16le' };
  if (bytes.length >= 2 && bytes[0] === 0xfe && bytes[1] === 0xff) return { text: iconv.decode(bytes.subarray(2), 'utf-16be'), encoding: 'utf-16be' };
  try {
    return { text: new TextDecoder('utf-8', { fatal: true }).decode(bytes), encoding: 'utf-8' };
  } catch {
    return { text: iconv.decode(bytes, 'cp932'), encoding: 'shift_jis' };
  }
}

