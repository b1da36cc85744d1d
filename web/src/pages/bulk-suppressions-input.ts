// The 配信停止リスト page's address field, as the page sends it to POST /suppressions.

/** One address a line (commas and semicolons separate too), blanks left out. */
export function addressLines(text: string): string[] {
  return text
    .split(/[\r\n,;]+/)
    .map((s) => s.trim())
    .filter((s) => s !== '');
}
