// The stored form of a sent bulk mail (migration 0007): a base — the segments every mail of
// the bulk delivery shares, stored once — and per mail a recipe, which lists in order either
// a base segment or bytes of the mail's own. Putting the recipe together gives the mail's
// exact bytes; its total length is written first and checked when it is read back.
//
//   base:   count, then per segment: length, bytes
//   recipe: total length, then per entry: 2 × index (a base segment) or 2 × length + 1 and
//           that many bytes of the mail's own
//
// Every number is an unsigned LEB128 varint.

export type RecipePart = number | Buffer;

class Writer {
  readonly #chunks: Buffer[] = [];
  #head = Buffer.allocUnsafe(64);
  #at = 0;

  varint(n: number): void {
    if (this.#at + 10 > this.#head.length) this.#spill();
    this.#at = putVarint(this.#head, this.#at, n);
  }

  bytes(b: Buffer): void {
    this.#spill();
    this.#chunks.push(b);
  }

  done(): Buffer {
    this.#spill();
    return Buffer.concat(this.#chunks);
  }

  #spill(): void {
    if (this.#at === 0) return;
    this.#chunks.push(Buffer.from(this.#head.subarray(0, this.#at)));
    this.#head = Buffer.allocUnsafe(64);
    this.#at = 0;
  }
}

class Reader {
  #at = 0;
  constructor(private readonly data: Buffer) {}

  get done(): boolean {
    return this.#at >= this.data.length;
  }

  varint(): number {
    let n = 0;
    let scale = 1;
    for (;;) {
      if (this.#at >= this.data.length) throw new Error('stored mail: truncated number');
      const b = this.data[this.#at++]!;
      n += (b & 0x7f) * scale;
      if (b < 0x80) return n;
      scale *= 0x80;
    }
  }

  bytes(length: number): Buffer {
    if (this.#at + length > this.data.length) throw new Error('stored mail: truncated bytes');
    const out = this.data.subarray(this.#at, this.#at + length);
    this.#at += length;
    return out;
  }
}

export function encodeBase(segments: Buffer[]): Buffer {
  const w = new Writer();
  w.varint(segments.length);
  for (const s of segments) {
    w.varint(s.length);
    w.bytes(s);
  }
  return w.done();
}

export function decodeBase(data: Buffer): Buffer[] {
  const r = new Reader(data);
  const count = r.varint();
  const segments: Buffer[] = [];
  for (let i = 0; i < count; i++) segments.push(r.bytes(r.varint()));
  if (!r.done) throw new Error('stored mail: bytes after the base');
  return segments;
}

export function encodeRecipe(parts: RecipePart[], segments: Buffer[]): Buffer {
  // sized first, then written into one buffer (one for every mail sent: no pieces to join)
  let total = 0;
  let size = 0;
  for (const p of parts) {
    if (typeof p === 'number') {
      total += segments[p]!.length;
      size += varintSize(p * 2);
    } else if (p.length > 0) {
      total += p.length;
      size += varintSize(p.length * 2 + 1) + p.length;
    }
  }
  const out = Buffer.allocUnsafe(varintSize(total) + size);
  let at = putVarint(out, 0, total);
  for (const p of parts) {
    if (typeof p === 'number') {
      at = putVarint(out, at, p * 2);
    } else if (p.length > 0) {
      at = putVarint(out, at, p.length * 2 + 1);
      at += p.copy(out, at);
    }
  }
  return out;
}

function varintSize(n: number): number {
  let size = 1;
  while (n >= 0x80) {
    n = Math.floor(n / 0x80);
    size++;
  }
  return size;
}

/** Write `n` at `at`; the offset after it. */
function putVarint(out: Buffer, at: number, n: number): number {
  while (n >= 0x80) {
    out[at++] = (n % 0x80) | 0x80;
    n = Math.floor(n / 0x80);
  }
  out[at++] = n;
  return at;
}

/** The size of the mail a recipe makes (its first number), without its base. */
export function recipeSize(recipe: Buffer): number {
  return new Reader(recipe).varint();
}

/** The mail's bytes; throws when the recipe does not fit the base (a damaged row). */
export function decodeRecipe(recipe: Buffer, segments: Buffer[]): Buffer {
  const r = new Reader(recipe);
  const total = r.varint();
  const out: Buffer[] = [];
  while (!r.done) {
    const n = r.varint();
    if (n % 2 === 0) {
      const seg = segments[n / 2];
      if (!seg) throw new Error(`stored mail: no base segment ${n / 2}`);
      out.push(seg);
    } else {
      out.push(r.bytes((n - 1) / 2));
    }
  }
  const raw = Buffer.concat(out);
  if (raw.length !== total) throw new Error(`stored mail: ${raw.length} bytes put together, ${total} recorded`);
  return raw;
}
