// The Japanese corpus (test/fixtures/japanese, written by make-corpus.ts): every mail's metadata
// and decoded form must equal what its JSON says, exactly.
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { describe, it } from 'node:test';
import { decodeMessage } from '../../src/mail/decode-body.ts';
import { createMetadataCollector, extractMetadata } from '../../src/mail/metadata.ts';
import { buildCorpus } from '../fixtures/japanese/make-corpus.ts';

const dir = new URL('../fixtures/japanese/', import.meta.url);

interface Expected {
  description: string;
  metadata: Record<string, unknown> & { parseError: boolean };
  decoded: Record<string, unknown> & { error: boolean };
}

const names = readdirSync(dir)
  .filter((f) => f.endsWith('.eml'))
  .map((f) => f.slice(0, -4))
  .sort();

describe('Japanese corpus', () => {
  it('is exactly what make-corpus.ts writes', () => {
    const built = buildCorpus();
    assert.deepEqual(names, built.map((c) => c.name).sort());
    for (const c of built) {
      assert.ok(readFileSync(new URL(`${c.name}.eml`, dir)).equals(c.eml), `${c.name}.eml differs`);
      assert.equal(readFileSync(new URL(`${c.name}.json`, dir), 'utf8'), c.json, `${c.name}.json differs`);
    }
  });

  for (const name of names) {
    const raw = readFileSync(new URL(`${name}.eml`, dir));
    const expected = JSON.parse(readFileSync(new URL(`${name}.json`, dir), 'utf8')) as Expected;

    describe(`${name}: ${expected.description}`, () => {
      it('extractMetadata gives the expected metadata', () => {
        const { parseError, ...rest } = extractMetadata(raw);
        const { parseError: wantError, ...want } = expected.metadata;
        assert.deepEqual(rest, want);
        assert.equal(parseError !== null, wantError, `parseError: ${parseError}`);
      });

      it('the chunked collector agrees with extractMetadata for every chunk size', () => {
        const whole = extractMetadata(raw);
        for (const size of [1, 2, 3, 7, 64, 1000]) {
          const c = createMetadataCollector();
          for (let i = 0; i < raw.length; i += size) c.update(raw.subarray(i, i + size));
          assert.deepEqual(c.end(), whole, `chunk size ${size}`);
        }
      });

      it('decodeMessage gives the expected subject, addresses, body and attachments', async () => {
        const d = await decodeMessage(raw);
        const m = expected.metadata;
        assert.equal(d.subject, m.subject);
        assert.deepEqual(d.from, m.from);
        assert.deepEqual(d.to, m.to);
        assert.deepEqual(d.cc, m.cc);
        assert.equal(d.date, m.date);
        const { error: wantError, ...want } = expected.decoded;
        for (const [key, value] of Object.entries(want)) {
          assert.deepEqual(d[key as keyof typeof d], value, key);
        }
        assert.equal(d.error !== null, wantError, `error: ${d.error}`);
      });
    });
  }
});
