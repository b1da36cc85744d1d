// Property tests: whatever a client POSTs or PATCHes to /api/v1/mail-servers —
// valid, nearly valid or nonsense — the answer is never a 5xx, a refusal has the
// error shape, and every stored server satisfies the rules of PRODUCT.md §2.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { normalizeHost } from '../../src/domain/host.ts';
import { junk, maybe, mostly } from '../support/arbitraries.ts';
import { api, harness, listServers, type Harness, type Json } from './helpers.ts';

const CONTROL = /[\u0000-\u001f\u007f]/;
const ENCRYPTIONS = ['none', 'starttls', 'tls'];
const MECHANISMS = ['PLAIN', 'LOGIN', 'CRAM-MD5', 'XOAUTH2', null];

/** A string with a control character, a NUL or a line break somewhere. */
const withControl = fc
  .tuple(fc.string({ maxLength: 10 }), fc.constantFrom('\u0000', '\r\n', '\n', '\t', '\u001b', '\u007f', '\u2028'), fc.string({ maxLength: 10 }))
  .map(([a, c, b]) => a + c + b);

const text = fc.oneof(
  fc.string({ maxLength: 20 }),
  fc.string({ maxLength: 120, unit: 'binary' }),
  fc.string({ maxLength: 20, unit: 'grapheme' }),
  withControl,
  fc.constantFrom(' ', '　', 'x'.repeat(100), 'x'.repeat(101), ' ISP ', 'Gmail', 'ＧＭＡＩＬ'),
);

const host = fc.oneof(
  fc.domain(),
  fc.ipV4(),
  fc.ipV6(),
  fc.ipV6().map((ip) => `[${ip}]`),
  fc.domain().map((d) => d.toUpperCase() + '.'),
  fc.webUrl(),
  fc.emailAddress(),
  fc.constantFrom('メール.例え.jp', 'pop.example.com:110', '999.1.1.1', '-bad-.example.com', 'a'.repeat(254), `${'a'.repeat(63)}.`.repeat(4) + 'com', '[::1]', '0'),
  text,
);

const validHost = fc.oneof(fc.domain(), fc.ipV4(), fc.ipV6().map((ip) => `[${ip}]`), fc.domain().map((d) => d.toUpperCase() + '.'));
const validName = fc
  .tuple(fc.string({ minLength: 1, maxLength: 60, unit: 'grapheme' }), fc.uuid())
  .map(([n, id]) => `${n.replace(/[\u0000-\u001f\u007f]/g, '')} ${id.slice(0, 8)}`);
const port = mostly(
  fc.integer({ min: 1, max: 65535 }),
  fc.oneof(fc.integer(), fc.double(), fc.constantFrom(0, -1, 65536, 2 ** 53, 1.5, '110', null, Number.MAX_SAFE_INTEGER)),
);
const limit = mostly(
  fc.oneof(fc.constant(null), fc.integer({ min: 1, max: 2_147_483_647 })),
  fc.oneof(fc.integer(), fc.constantFrom(0, -1, 2 ** 31, 1e21, 0.5, '100'), fc.double()),
);

const incoming = fc.record(
  {
    protocol: mostly(fc.constantFrom('pop3', 'imap4'), fc.constantFrom('POP3', 'smtp', '', 5)),
    host: mostly(validHost, host),
    port: maybe(port),
    encryption: maybe(mostly(fc.constantFrom(...ENCRYPTIONS), fc.constantFrom('ssl', 'TLS', true))),
    apop: maybe(mostly(fc.boolean(), fc.constantFrom('yes', 1, null))),
    maxMessageBytes: maybe(limit),
    allowInvalidCertificate: maybe(mostly(fc.boolean(), fc.constantFrom('false', 0))),
  },
  { requiredKeys: ['protocol', 'host'] },
);

const outgoing = fc.record(
  {
    host: mostly(validHost, host),
    port: maybe(port),
    encryption: maybe(mostly(fc.constantFrom(...ENCRYPTIONS), fc.constantFrom('ssl', 'STARTTLS'))),
    auth: maybe(
      mostly(
        fc.record({ mechanism: fc.constantFrom(...MECHANISMS), useAccountCredentials: maybe(fc.boolean()) }, { requiredKeys: ['mechanism'] }),
        fc.oneof(fc.record({ mechanism: fc.constantFrom('plain', 'NTLM', 'GSSAPI'), useAccountCredentials: fc.constant('yes') }, { requiredKeys: [] }), junk),
      ),
    ),
    maxMessageBytes: maybe(limit),
    perMinuteLimit: maybe(mostly(fc.oneof(fc.constant(null), fc.integer({ min: 1, max: 1_000_000 })), fc.constantFrom(0, 1_000_001, -5, 2.5))),
    allowInvalidCertificate: maybe(fc.boolean()),
  },
  { requiredKeys: ['host'] },
);

/** Sometimes an extra key, sometimes a whole part replaced by junk. */
const withNoise = <T extends object>(arb: fc.Arbitrary<T>) =>
  fc.tuple(arb, mostly(fc.constant(null), fc.tuple(fc.string({ minLength: 1, maxLength: 8 }), junk))).map(([o, extra]) => (extra ? { ...o, [extra[0]]: extra[1] } : o));

const serverBody = fc.record(
  {
    name: mostly(validName, fc.oneof(text, junk)),
    incoming: mostly(withNoise(incoming), junk),
    outgoing: mostly(withNoise(outgoing), junk),
  },
  { requiredKeys: ['name', 'incoming', 'outgoing'] },
);

/** Completely random shapes, to check only that nothing gives a 5xx. */
const nonsense = fc.oneof(
  junk,
  fc.record({ name: fc.oneof(text, junk), incoming: fc.oneof(junk, fc.dictionary(fc.string({ maxLength: 6 }), junk)), outgoing: junk }, { requiredKeys: [] }),
);

/** PRODUCT.md §2, for every server the API stores. */
function assertValidServer(s: Json): void {
  const where = JSON.stringify(s);
  assert.equal(typeof s.name, 'string');
  assert.equal(s.name, s.name.trim(), `name not trimmed: ${where}`);
  assert.ok(s.name.length > 0 && [...s.name].length <= 100, `name length: ${where}`);
  assert.doesNotMatch(s.name, CONTROL, `name with control characters: ${where}`);
  for (const part of [s.incoming, s.outgoing]) {
    assert.notEqual(normalizeHost(part.host), null, `host not valid: ${where}`);
    assert.equal(normalizeHost(part.host), part.host, `host not stored in its normal form: ${where}`);
    assert.ok(Number.isInteger(part.port) && part.port >= 1 && part.port <= 65535, `port: ${where}`);
    assert.ok(ENCRYPTIONS.includes(part.encryption), `encryption: ${where}`);
    assert.ok(part.maxMessageBytes === null || (Number.isInteger(part.maxMessageBytes) && part.maxMessageBytes >= 1 && part.maxMessageBytes <= 2_147_483_647), `size limit: ${where}`);
    assert.equal(typeof part.allowInvalidCertificate, 'boolean');
  }
  assert.ok(['pop3', 'imap4'].includes(s.incoming.protocol), `protocol: ${where}`);
  assert.equal(typeof s.incoming.apop, 'boolean');
  if (s.incoming.apop) assert.equal(s.incoming.protocol, 'pop3', `APOP without POP3: ${where}`);
  assert.ok(MECHANISMS.includes(s.outgoing.auth.mechanism), `mechanism: ${where}`);
  assert.equal(typeof s.outgoing.auth.useAccountCredentials, 'boolean');
  const pm = s.outgoing.perMinuteLimit;
  assert.ok(pm === null || (Number.isInteger(pm) && pm >= 1 && pm <= 1_000_000), `per-minute limit: ${where}`);
}

function assertRefusal(res: { status: number; json: Json; raw: string }, input: unknown): void {
  assert.ok(res.status < 500, `5xx for ${JSON.stringify(input)}: ${res.raw}`);
  assert.ok(res.status >= 400 && res.status < 500, `unexpected ${res.status} for ${JSON.stringify(input)}`);
  assert.equal(typeof res.json?.error?.code, 'string', res.raw);
  assert.equal(typeof res.json.error.message, 'string', res.raw);
}

async function checkAllStored(h: Harness, expected: number): Promise<void> {
  const items = await listServers(h);
  assert.equal(items.length, expected);
  for (const s of items) assertValidServer(s);
  assert.deepEqual(
    items.slice(0, 2).map((s) => s.preset),
    ['gmail', 'exchange_online'],
  );
  assert.deepEqual(
    items.map((s) => s.position),
    items.map((_s, i) => i + 1),
  );
}

test('random server inputs never give a 5xx, and every stored server is valid', async (t) => {
  const h = await harness(t);
  if (!h) return;
  let stored = 2;
  let created = 0;
  await fc.assert(
    fc.asyncProperty(fc.oneof({ weight: 6, arbitrary: serverBody }, { weight: 1, arbitrary: nonsense }), async (body) => {
      const res = await api(h, { method: 'POST', url: '/api/v1/mail-servers', body });
      if (res.status === 201) {
        stored++;
        created++;
        assertValidServer(res.json);
        const again = await api(h, { url: `/api/v1/mail-servers/${res.json.id}` });
        assert.deepEqual(again.json, res.json);
      } else {
        assertRefusal(res, body);
      }
    }),
    { numRuns: 300 },
  );
  await checkAllStored(h, stored);
  // the generators must reach the accepting side too, or the invariants test nothing
  t.diagnostic(`${created} of 300 random servers were stored`);
  assert.ok(created >= 50, `only ${created} of 300 random servers were valid`);
});

test('random PATCHes never give a 5xx, keep every server valid, and never move a preset off its fixed values', async (t) => {
  const h = await harness(t);
  if (!h) return;
  const [gmail, exchange] = await listServers(h);
  const ids: string[] = [gmail.id, exchange.id];
  for (let i = 0; i < 3; i++) {
    const res = await api(h, {
      method: 'POST',
      url: '/api/v1/mail-servers',
      body: { name: `Target ${i}`, incoming: { protocol: i ? 'pop3' : 'imap4', host: 'mail.example.com', apop: i === 2 }, outgoing: { host: 'smtp.example.com' } },
    });
    assert.equal(res.status, 201, res.raw);
    ids.push(res.json.id);
  }
  // a PATCH sends a few fields: drop each key with even odds
  const partial = <T extends object>(arb: fc.Arbitrary<T>) =>
    fc.tuple(withNoise(arb), fc.array(fc.boolean(), { minLength: 12, maxLength: 12 })).map(([o, keep]) => Object.fromEntries(Object.entries(o).filter((_e, i) => keep[i])));
  const patchBody = fc.record(
    {
      name: maybe(mostly(validName, fc.oneof(text, junk))),
      incoming: maybe(mostly(partial(incoming), junk)),
      outgoing: maybe(mostly(partial(outgoing), junk)),
    },
    { requiredKeys: [] },
  );
  const fixed = (s: Json) => ({
    name: s.name,
    incomingEncryption: s.incoming.encryption,
    apop: s.incoming.apop,
    allowInvalid: [s.incoming.allowInvalidCertificate, s.outgoing.allowInvalidCertificate],
    outgoing: { host: s.outgoing.host, port: s.outgoing.port, encryption: s.outgoing.encryption, auth: s.outgoing.auth },
  });
  let accepted = 0;
  const presetFixed = new Map([gmail, exchange].map((p) => [p.id, fixed(p)]));
  const presetIncoming: Record<string, Record<string, [string, number]>> = {
    gmail: { imap4: ['imap.gmail.com', 993], pop3: ['pop.gmail.com', 995] },
    exchange_online: { imap4: ['outlook.office365.com', 993], pop3: ['outlook.office365.com', 995] },
  };
  await fc.assert(
    fc.asyncProperty(fc.constantFrom(...ids), patchBody, async (id, body) => {
      const res = await api(h, { method: 'PATCH', url: `/api/v1/mail-servers/${id}`, body });
      if (res.status !== 200) {
        assertRefusal(res, body);
        return;
      }
      accepted++;
      assertValidServer(res.json);
      const preset = presetFixed.get(id);
      if (preset) {
        assert.deepEqual(fixed(res.json), preset, `preset changed by ${JSON.stringify(body)}`);
        const [host, port] = presetIncoming[res.json.preset]![res.json.incoming.protocol]!;
        assert.equal(res.json.incoming.host, host);
        assert.equal(res.json.incoming.port, port);
      }
    }),
    { numRuns: 150 },
  );
  t.diagnostic(`${accepted} of 150 random changes were accepted`);
  assert.ok(accepted >= 20, `only ${accepted} of 150 random changes were accepted`);
  await checkAllStored(h, 5);
});
