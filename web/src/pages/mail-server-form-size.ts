// The mail server form's size limits (メールサイズの制限): the API stores bytes, the
// form shows MB (MiB) rounded to 2 decimals. A limit set in bytes from the API or
// the CLI (10,000,000) is not a whole number of MB, so converting the shown 9.54
// back gives 10,003,415: a field the administrator left alone goes back as the
// bytes it was loaded with, and only a changed field is converted.

export const MIB = 1024 * 1024;

/** Bytes as the form shows them: MB rounded to 2 decimals; '' for no limit. */
export function mbText(bytes: number | null): string {
  if (bytes === null) return '';
  return String(Math.round((bytes / MIB) * 100) / 100);
}

/**
 * The limit to send. Unlimited is null. MB that still read as the stored limit
 * (the field as loaded, or typed back to the same number) give the stored bytes
 * exactly; other MB are converted. Anything that is not a number goes as typed,
 * for the API's field error to name it.
 */
export function sizeLimitBytes(limited: boolean, raw: string, stored: number | null): number | string | null {
  if (!limited) return null;
  const v = raw.trim();
  if (!/^\d+(\.\d+)?$/.test(v)) return raw;
  if (stored !== null && Number(v) === Number(mbText(stored))) return stored;
  return Math.round(Number(v) * MIB);
}
