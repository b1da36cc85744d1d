// Date header → ISO 8601 (UTC). RFC 5322 3.3 date-time plus its obsolete forms (4.3: two-digit
// years, named zones, comments such as "(JST)"), and the ISO 8601 and asctime forms some
// software writes. Anything else is null rather than a guess: V8's Date.parse reads "1" as 2001.

const MONTHS: Record<string, number> = {
  jan: 0, feb: 1, mar: 2, apr: 3, may: 4, jun: 5, jul: 6, aug: 7, sep: 8, oct: 9, nov: 10, dec: 11,
};

// minutes east of UTC; RFC 5322 4.3 names plus a few seen in the wild (JST from Japanese mailers)
const ZONES: Record<string, number> = {
  ut: 0, utc: 0, gmt: 0, z: 0, est: -300, edt: -240, cst: -360, cdt: -300, mst: -420, mdt: -360,
  pst: -480, pdt: -420, jst: 540, kst: 540, cet: 60, cest: 120, met: 60, mest: 120, bst: 60,
  eet: 120, eest: 180, hkt: 480, sgt: 480, ist: 330,
};

const RFC5322 =
  /^\s*(?:[a-z]{2,9}\.?\s*,?\s*)?(\d{1,2})[\s-]+([a-z]{3})[a-z]*\.?[\s-]+(\d{2,4})\s+(\d{1,2}):(\d{1,2})(?::(\d{1,2})(?:\.\d+)?)?\s*(?:([+-])(\d{2}):?(\d{2})|([a-z]{1,5})(?:([+-])(\d{2}):?(\d{2}))?)?/i;
const ISO8601 = /^\s*\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?\s*$/i;
const ASCTIME = /^\s*[a-z]{3}\s+([a-z]{3})\s+(\d{1,2})\s+(\d{1,2}:\d{2}:\d{2})\s+(\d{4})\s*$/i;

function daysInMonth(year: number, month: number): number {
  return new Date(Date.UTC(year, month + 1, 0)).getUTCDate();
}

/** Parse a Date field value; null when it is not a recognisable date. */
export function parseMailDate(value: string): string | null {
  const s = (value.indexOf('(') === -1 ? value : value.replace(/\([^()]*\)/g, ' ')).slice(0, 200);
  const m = RFC5322.exec(s);
  if (m) {
    const month = MONTHS[m[2]!.toLowerCase()];
    if (month === undefined) return null;
    const day = Number(m[1]);
    let year = Number(m[3]);
    if (m[3]!.length === 2) year += year < 50 ? 2000 : 1900;
    else if (m[3]!.length === 3) year += 1900;
    const hour = Number(m[4]);
    const minute = Number(m[5]);
    const second = Math.min(m[6] === undefined ? 0 : Number(m[6]), 59);
    if (year < 1000 || day < 1 || day > daysInMonth(year, month) || hour > 23 || minute > 59 || second > 60) return null;
    let offset = 0;
    // "GMT+0900" (written by some scripts) is nine hours east of GMT, not GMT
    const utcNamed = m[10] !== undefined && m[11] !== undefined && ['gmt', 'ut', 'utc'].includes(m[10].toLowerCase());
    const sign = utcNamed ? m[11] : m[7];
    if (sign !== undefined) {
      const oh = Number(utcNamed ? m[12] : m[8]);
      const om = Number(utcNamed ? m[13] : m[9]);
      if (oh > 23 || om > 59) return null;
      offset = (sign === '-' ? -1 : 1) * (oh * 60 + om);
    } else if (m[10] !== undefined) {
      offset = ZONES[m[10].toLowerCase()] ?? 0; // military and unknown zones: -0000 (RFC 5322 4.3)
    }
    const t = Date.UTC(year, month, day, hour, minute, second) - offset * 60_000;
    return Number.isFinite(t) ? new Date(t).toISOString() : null;
  }
  if (ISO8601.test(s)) {
    // no zone means UTC here, not the host's local time
    let iso = s.trim().replace(' ', 'T').replace(/([+-]\d{2})(\d{2})$/, '$1:$2');
    if (iso.length > 10 && !/(?:Z|[+-]\d{2}:\d{2})$/i.test(iso)) iso += 'Z';
    const t = Date.parse(iso);
    return Number.isFinite(t) ? new Date(t).toISOString() : null;
  }
  const a = ASCTIME.exec(s);
  if (a) return parseMailDate(`${a[2]} ${a[1]} ${a[4]} ${a[3]} +0000`);
  return null;
}
