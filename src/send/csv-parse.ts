// CSV parsing for bulk delivery recipients (no I/O, no Node APIs: the browser's preview
// runs this same code) (RFC 4180, as Excel and Google Sheets write it): a header
// row, fields separated by commas, optionally in double quotes, where a quoted field may hold
// commas, line breaks and doubled quotes (""). Lines end in CRLF, LF or CR. Files come as
// UTF-8, UTF-8 with a BOM (Excel's "CSV UTF-8"), Shift_JIS (Excel's Japanese default, read
// as Windows-31J / CP932, its superset), or UTF-16 with a BOM ("Unicode text").
//
// Rows are numbered as a spreadsheet shows them: the header is row 1, the first recipient
// row 2. `line` is the physical line a row starts on (they differ once a quoted field holds
// a line break). Anything the parser cannot read for sure is an error with its row and line,
// never a guess: a broken quote would shift every later field into the wrong column.

export type CsvEncoding = 'utf-8' | 'utf-16le' | 'utf-16be' | 'shift_jis';

export type CsvProblem =
  | 'unterminatedQuote' // a quoted field runs to the end of the file
  | 'textAfterQuote' // "abc"x — something between a closing quote and the next comma
  | 'quoteInField' // ab"c — a quote inside a field that did not start with one
  | 'fieldCount' // a row with more or fewer fields than the header
  | 'emptyHeader' // no header row
  | 'duplicateHeader'; // two columns with the same name

export interface CsvError {
  problem: CsvProblem;
  row: number;
  line: number;
  /** fieldCount: the header's count and this row's */
  expected?: number | undefined;
  actual?: number | undefined;
  /** duplicateHeader: the name */
  column?: string | undefined;
}

export interface CsvRow {
  row: number;
  line: number;
  values: string[];
}

export interface CsvTable {
  header: string[];
  rows: CsvRow[];
  errors: CsvError[];
}

/** Parse CSV text (a leading BOM is dropped). Blank lines are skipped but counted as rows. */
export function parseCsv(input: string): CsvTable {
  const text = input.charCodeAt(0) === 0xfeff ? input.slice(1) : input;
  const records: CsvRow[] = [];
  const errors: CsvError[] = [];
  const n = text.length;
  let i = 0;
  let line = 1;
  let row = 0;

  while (i < n) {
    const startLine = line;
    row++;
    const values: string[] = [];
    let broken: CsvError | undefined;
    // one record
    for (;;) {
      let value = '';
      if (text.charCodeAt(i) === 0x22 /* " */) {
        i++;
        let closed = false;
        let start = i;
        while (i < n) {
          const c = text.charCodeAt(i);
          if (c === 0x22) {
            if (text.charCodeAt(i + 1) === 0x22) {
              value += text.slice(start, i + 1);
              i += 2;
              start = i;
              continue;
            }
            value += text.slice(start, i);
            i++;
            closed = true;
            break;
          }
          if (c === 0x0a || (c === 0x0d && text.charCodeAt(i + 1) !== 0x0a)) line++;
          i++;
        }
        if (!closed) {
          // it ran to the end of the text: nothing after this row can be read
          broken = { problem: 'unterminatedQuote', row, line: startLine };
          values.push(value);
          break;
        }
        // after the closing quote: a comma, a line end or the end of the text
        const c = text.charCodeAt(i);
        if (i < n && c !== 0x2c && c !== 0x0a && c !== 0x0d) {
          broken ??= { problem: 'textAfterQuote', row, line: startLine };
          while (i < n && text.charCodeAt(i) !== 0x2c && text.charCodeAt(i) !== 0x0a && text.charCodeAt(i) !== 0x0d) i++;
        }
      } else {
        const start = i;
        while (i < n) {
          const c = text.charCodeAt(i);
          if (c === 0x2c || c === 0x0a || c === 0x0d) break;
          if (c === 0x22) broken ??= { problem: 'quoteInField', row, line: startLine };
          i++;
        }
        value = text.slice(start, i);
      }
      values.push(value);
      if (i < n && text.charCodeAt(i) === 0x2c) {
        i++;
        continue;
      }
      break;
    }
    // the record's line end
    if (i < n) {
      if (text.charCodeAt(i) === 0x0d && text.charCodeAt(i + 1) === 0x0a) i += 2;
      else i++;
      line++;
    }
    // a blank line holds no recipient, but keeps its row number (as a spreadsheet shows it)
    if (values.length === 1 && values[0] === '' && !broken) continue;
    if (broken) {
      // one error per row: its fields cannot be counted for sure either
      errors.push(broken);
      continue;
    }
    records.push({ row, line: startLine, values });
  }

  const first = records.shift();
  if (!first) return { header: [], rows: [], errors: errors.length ? errors : [{ problem: 'emptyHeader', row: 1, line: 1 }] };
  const header = first.values.map((h) => h.trim());
  const seen = new Set<string>();
  for (const name of header) {
    if (name !== '' && seen.has(name)) errors.push({ problem: 'duplicateHeader', row: first.row, line: first.line, column: name });
    seen.add(name);
  }
  const rows: CsvRow[] = [];
  for (const r of records) {
    // a trailing empty field past the header's width is a trailing comma (Excel writes them)
    while (r.values.length > header.length && r.values[r.values.length - 1] === '') r.values.pop();
    if (r.values.length !== header.length) {
      errors.push({ problem: 'fieldCount', row: r.row, line: r.line, expected: header.length, actual: r.values.length });
      continue;
    }
    rows.push(r);
  }
  errors.sort((a, b) => a.row - b.row);
  return { header, rows, errors };
}
