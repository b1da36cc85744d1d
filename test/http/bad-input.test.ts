// Bad input gets a clear 4xx that names the field, in Japanese by default and in
// English with Accept-Language: en, and stores nothing: after every refused
// request the lists, the audit log and the raw rows are exactly as before.
// Runs on both engines.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { isDeepStrictEqual } from 'node:util';
import { ENGINES } from '../support/app-context.ts';
import {
  accountInput,
  addAccount,
  addServer,
  api,
  assertError,
  fieldPaths,
  harness,
  JAPANESE,
  listServers,
  serverInput,
  snapshot,
  type CallOptions,
  type Harness,
  type Json,
} from './helpers.ts';

interface State {
  /** a non-preset server named "isp" (POP3 with APOP), used by one account */
  isp: Json;
  other: Json;
  gmail: Json;
  account: Json;
}

interface BadCase {
  what: string;
  request: (s: State) => CallOptions;
  status: number;
  code: string;
  /** the field path that must be named (none for whole-body errors) */
  path?: string;
}

/** A word each field's message must contain, so a user knows which field is meant. */
const FIELD_WORDS: Record<string, { ja: string; en: string }> = {
  name: { ja: '名前', en: 'name' },
  incoming: { ja: '受信メールサーバー', en: 'incoming' },
  'incoming.host': { ja: 'サーバー名', en: 'server name' },
  'outgoing.host': { ja: 'サーバー名', en: 'server name' },
  'incoming.port': { ja: 'ポート番号', en: 'port' },
  'outgoing.port': { ja: 'ポート番号', en: 'port' },
  'incoming.apop': { ja: 'APOP', en: 'APOP' },
  'incoming.protocol': { ja: 'POP3', en: 'protocol' },
  'incoming.encryption': { ja: '暗号化', en: 'encryption' },
  'outgoing.encryption': { ja: '暗号化', en: 'encryption' },
  'incoming.maxMessageBytes': { ja: 'サイズ', en: 'size' },
  'outgoing.maxMessageBytes': { ja: 'サイズ', en: 'size' },
  'outgoing.perMinuteLimit': { ja: '1分間', en: 'per minute' },
  bogus: { ja: 'bogus', en: 'bogus' },
  toString: { ja: 'toString', en: 'toString' },
  'outgoing.constructor': { ja: 'constructor', en: 'constructor' },
  'incoming.bogus': { ja: 'bogus', en: 'bogus' },
  'outgoing.auth.bogus': { ja: 'bogus', en: 'bogus' },
  'incoming.bogus1': { ja: 'bogus', en: 'bogus' },
  bogus1: { ja: 'bogus', en: 'bogus' },
  'outgoing.auth.useAccountCredentials': { ja: 'ユーザー名とパスワード', en: 'user name and password' },
  'attachments.0.contentType': { ja: '添付ファイルの種類', en: 'attachment type' },
  ids: { ja: '順', en: 'order' },
  serverId: { ja: 'メールサーバー', en: 'mail server' },
  password: { ja: 'パスワード', en: 'password' },
  address: { ja: 'メールアドレス', en: 'address' },
  'leaveOnServer.days': { ja: '日数', en: 'days' },
  receiveIntervalMinutes: { ja: '受信間隔', en: 'receive interval' },
  displayName: { ja: '表示名', en: 'display name' },
  fromName: { ja: '差出人', en: 'sender name' },
  reason: { ja: '理由', en: 'reason' },
};

const SERVERS = '/api/v1/mail-servers';
const ACCOUNTS = '/api/v1/mail-accounts';
const HOST_254 = `${'a'.repeat(63)}.${'b'.repeat(63)}.${'c'.repeat(63)}.${'d'.repeat(62)}`;

function postServer(patch: (input: Json) => void): (s: State) => CallOptions {
  return () => {
    const body = structuredClone(serverInput({ name: 'New server' })) as Json;
    patch(body);
    return { method: 'POST', url: SERVERS, body };
  };
}

function postAccount(patch: (input: Json, s: State) => void): (s: State) => CallOptions {
  return (s) => {
    const body = structuredClone(accountInput(s.isp.id, { address: 'new@example.com' })) as Json;
    patch(body, s);
    return { method: 'POST', url: ACCOUNTS, body };
  };
}

const v = (path: string, what: string, request: (s: State) => CallOptions): BadCase => ({ what, request, status: 400, code: 'VALIDATION', path });

const CASES: BadCase[] = [
  // names
  v('name', 'empty name', postServer((b) => (b.name = ''))),
  v('name', 'whitespace-only name', postServer((b) => (b.name = ' \u3000 '))),
  v('name', '101-character name', postServer((b) => (b.name = 'x'.repeat(101)))),
  v('name', 'duplicate name in another case with a trailing space', postServer((b) => (b.name = 'ISP '))),
  v('name', 'duplicate of a preset name', postServer((b) => (b.name = 'gmail'))),
  v('name', 'name with a line break', postServer((b) => (b.name = 'a\nb'))),
  v('name', 'name with a Unicode line separator', postServer((b) => (b.name = 'a\u2028b'))),
  // not well-formed UTF-16: the engines would store U+FFFD instead (SQLite even three of them)
  v('name', 'name with a lone surrogate', postServer((b) => (b.name = 'ISP \ud800 2'))),
  // hosts
  v('incoming.host', 'host with a space', postServer((b) => (b.incoming.host = 'pop example.com'))),
  v('incoming.host', 'host with CR/LF', postServer((b) => (b.incoming.host = 'pop.example.com\r\nQUIT'))),
  v('incoming.host', 'host with a NUL', postServer((b) => (b.incoming.host = 'pop\u0000.example.com'))),
  v('incoming.host', 'host that is a URL', postServer((b) => (b.incoming.host = 'pop://x'))),
  v('incoming.host', 'host with a port', postServer((b) => (b.incoming.host = 'pop.example.com:995'))),
  v('incoming.host', 'empty host', postServer((b) => (b.incoming.host = ''))),
  v('incoming.host', '254-character host', postServer((b) => (b.incoming.host = HOST_254))),
  v('outgoing.host', '254-character outgoing host', postServer((b) => (b.outgoing.host = HOST_254))),
  // domainToASCII would decode %41 and check popa.example.com, while the typed name was stored
  v('incoming.host', 'host with a %-escape', postServer((b) => (b.incoming.host = 'pop%41.example.com'))),
  v('outgoing.host', 'outgoing host that is a URL', postServer((b) => (b.outgoing.host = 'smtp://smtp.example.com/'))),
  // ports
  v('incoming.port', 'port 0', postServer((b) => (b.incoming.port = 0))),
  v('incoming.port', 'port 65536', postServer((b) => (b.incoming.port = 65536))),
  v('incoming.port', 'port -1', postServer((b) => (b.incoming.port = -1))),
  v('incoming.port', 'port 1.5', postServer((b) => (b.incoming.port = 1.5))),
  v('incoming.port', 'port as a string "110"', postServer((b) => (b.incoming.port = '110'))),
  v('outgoing.port', 'outgoing port 0', postServer((b) => (b.outgoing.port = 0))),
  // combinations and enums
  v('incoming.apop', 'APOP with IMAP4', postServer((b) => Object.assign(b.incoming, { protocol: 'imap4', apop: true }))),
  v('incoming.encryption', 'encryption "ssl"', postServer((b) => (b.incoming.encryption = 'ssl'))),
  v('outgoing.encryption', 'outgoing encryption "ssl"', postServer((b) => (b.outgoing.encryption = 'ssl'))),
  v('incoming.protocol', 'protocol "smtp"', postServer((b) => (b.incoming.protocol = 'smtp'))),
  // limits
  v('incoming.maxMessageBytes', 'negative size limit', postServer((b) => (b.incoming.maxMessageBytes = -1))),
  v('incoming.maxMessageBytes', 'zero size limit', postServer((b) => (b.incoming.maxMessageBytes = 0))),
  v('incoming.maxMessageBytes', 'non-integer size limit', postServer((b) => (b.incoming.maxMessageBytes = 1024.5))),
  v('outgoing.maxMessageBytes', 'zero outgoing size limit', postServer((b) => (b.outgoing.maxMessageBytes = 0))),
  v('outgoing.maxMessageBytes', 'outgoing size limit of 2^31', postServer((b) => (b.outgoing.maxMessageBytes = 2 ** 31))),
  v('outgoing.perMinuteLimit', 'per-minute limit 0', postServer((b) => (b.outgoing.perMinuteLimit = 0))),
  // shape
  v('bogus', 'unknown top-level field', postServer((b) => (b.bogus = 1))),
  v('incoming.bogus', 'unknown nested field', postServer((b) => (b.incoming.bogus = true))),
  // names of Object.prototype members must not be looked up as labels
  v('toString', 'unknown field named toString', postServer((b) => (b.toString = 1))),
  v('outgoing.constructor', 'unknown nested field named constructor', postServer((b) => (b.outgoing.constructor = 1))),
  v('name', 'name: 5', postServer((b) => (b.name = 5))),
  v('incoming', 'incoming: "x"', postServer((b) => (b.incoming = 'x'))),
  v('incoming.apop', 'apop: "yes"', postServer((b) => (b.incoming.apop = 'yes'))),
  v('incoming', 'missing incoming', postServer((b) => delete b.incoming)),
  { what: 'malformed JSON', request: () => ({ method: 'POST', url: SERVERS, raw: '{"name": "x", "incoming": {' }), status: 400, code: 'MALFORMED_JSON' },
  { what: 'empty JSON body', request: () => ({ method: 'POST', url: SERVERS, raw: '' }), status: 400, code: 'MALFORMED_JSON' },
  { what: '__proto__ in the body', request: () => ({ method: 'POST', url: SERVERS, raw: JSON.stringify(serverInput({ name: 'Proto' })).replace('{', '{"__proto__":{"admin":true},') }), status: 400, code: 'MALFORMED_JSON' },
  { what: '2 MB body', request: () => ({ method: 'POST', url: SERVERS, body: serverInput({ name: 'x'.repeat(2 * 1024 * 1024) }) }), status: 413, code: 'PAYLOAD_TOO_LARGE' },
  // reorder
  v('ids', 'reorder with a missing id', (s) => ({ method: 'PUT', url: `${SERVERS}/order`, body: { ids: [s.isp.id] } })),
  v('ids', 'reorder with a repeated id', (s) => ({ method: 'PUT', url: `${SERVERS}/order`, body: { ids: [s.isp.id, s.other.id, s.other.id] } })),
  v('ids', 'reorder with an unknown id', (s) => ({ method: 'PUT', url: `${SERVERS}/order`, body: { ids: [s.isp.id, s.other.id, 'no-such-id'] } })),
  v('ids', 'reorder with a preset id', (s) => ({ method: 'PUT', url: `${SERVERS}/order`, body: { ids: [s.gmail.id, s.isp.id, s.other.id] } })),
  v('ids', 'reorder with ids: "x"', () => ({ method: 'PUT', url: `${SERVERS}/order`, body: { ids: 'x' } })),
  // changes
  v('incoming.host', "PATCH of a preset's host", (s) => ({ method: 'PATCH', url: `${SERVERS}/${s.gmail.id}`, body: { incoming: { host: 'imap.example.com' } } })),
  v('incoming.host', 'PATCH with a host with a space', (s) => ({ method: 'PATCH', url: `${SERVERS}/${s.isp.id}`, body: { incoming: { host: 'a b' } } })),
  v('name', 'PATCH to the name of another server', (s) => ({ method: 'PATCH', url: `${SERVERS}/${s.other.id}`, body: { name: 'Isp' } })),
  v('incoming.apop', 'PATCH to IMAP4 while APOP is on', (s) => ({ method: 'PATCH', url: `${SERVERS}/${s.isp.id}`, body: { incoming: { protocol: 'imap4' } } })),
  v('incoming.port', 'PATCH with port 65536', (s) => ({ method: 'PATCH', url: `${SERVERS}/${s.isp.id}`, body: { incoming: { port: 65536 } } })),
  // Type.Partial had dropped additionalProperties: a typo was a 200 that changed nothing
  v('incoming.bogus', 'PATCH with an unknown incoming field', (s) => ({ method: 'PATCH', url: `${SERVERS}/${s.isp.id}`, body: { incoming: { encrypton: 'tls', bogus: 1 } } })),
  // TypeBox stops after eight errors, all "schema is false": the value was taken as valid
  v('incoming.bogus1', 'PATCH with eight unknown incoming fields and a bad limit', (s) => ({ method: 'PATCH', url: `${SERVERS}/${s.isp.id}`, body: { incoming: Object.fromEntries(Array.from({ length: 8 }, (_, i) => [`bogus${i + 1}`, 0])), outgoing: { perMinuteLimit: -5 } } })),
  v('bogus1', 'POST with eight unknown top-level fields', postServer((b) => Object.assign(b, Object.fromEntries(Array.from({ length: 8 }, (_, i) => [`bogus${i + 1}`, 0]))))),
  v('outgoing.auth.bogus', 'PATCH with an unknown auth field', (s) => ({ method: 'PATCH', url: `${SERVERS}/${s.isp.id}`, body: { outgoing: { auth: { bogus: 1 } } } })),
  // its account has no SMTP user name and password of its own: all its mail would fail AUTH
  v('outgoing.auth.useAccountCredentials', "PATCH turning off the account's credentials while an account has no SMTP ones", (s) => ({ method: 'PATCH', url: `${SERVERS}/${s.isp.id}`, body: { outgoing: { auth: { useAccountCredentials: false } } } })),
  { what: 'PATCH of a server that does not exist', request: () => ({ method: 'PATCH', url: `${SERVERS}/no-such-id`, body: { name: 'x' } }), status: 404, code: 'NOT_FOUND' },
  { what: 'DELETE of a preset', request: (s) => ({ method: 'DELETE', url: `${SERVERS}/${s.gmail.id}` }), status: 409, code: 'PRESET_IMMUTABLE' },
  { what: 'DELETE of a server in use', request: (s) => ({ method: 'DELETE', url: `${SERVERS}/${s.isp.id}` }), status: 409, code: 'SERVER_IN_USE' },
  // accounts
  v('serverId', 'account on a server id that does not exist', postAccount((b) => (b.serverId = '00000000-0000-4000-8000-000000000000'))),
  v('password', 'account password of 0 characters', postAccount((b) => (b.password = ''))),
  v('password', 'account password of 10,000 characters', postAccount((b) => (b.password = 'p'.repeat(10_000)))),
  v('password', 'account password with CR/LF', postAccount((b) => (b.password = 'secret\r\nDELE 1'))),
  ...[...'!"$\'()*,:;<>[]^{}'].map((c) => v('address', `account address with ${c} in the local part`, postAccount((b) => (b.address = `sup${c}port@example.com`)))),
  v('address', 'account address with a %-escape in the domain', postAccount((b) => (b.address = 'a@ex%41mple.com'))),
  v('address', 'account address without @', postAccount((b) => (b.address = 'support.example.com'))),
  v('address', 'account address that already exists (another case)', postAccount((b, s) => (b.address = s.account.address.toUpperCase()))),
  v('leaveOnServer.days', 'leave-on-server 0 days', postAccount((b) => (b.leaveOnServer = { mode: 'days', days: 0 }))),
  v('leaveOnServer.days', 'leave-on-server 3651 days', postAccount((b) => (b.leaveOnServer = { mode: 'days', days: 3651 }))),
  v('leaveOnServer.days', 'leave-on-server days without a number', postAccount((b) => (b.leaveOnServer = { mode: 'days' }))),
  v('receiveIntervalMinutes', 'receive interval 0', postAccount((b) => (b.receiveIntervalMinutes = 0))),
  v('receiveIntervalMinutes', 'receive interval 1441', postAccount((b) => (b.receiveIntervalMinutes = 1441))),
  v('displayName', 'whitespace-only display name', postAccount((b) => (b.displayName = '   '))),
  // a C1 control (NEL) in the From name would reach the From header
  v('fromName', 'From name with a C1 control (NEL)', postAccount((b) => (b.fromName = 'Support\u0085Team'))),
  v('reason', 'suppression reason with a line break', () => ({ method: 'POST', url: '/api/v1/suppressions', body: { addresses: ['x@example.com'], reason: 'asked\r\nby phone' } })),
  v('password', 'PATCH of an account with an empty password', (s) => ({ method: 'PATCH', url: `${ACCOUNTS}/${s.account.id}`, body: { password: '' } })),
  v('serverId', 'PATCH of an account to a server that does not exist', (s) => ({ method: 'PATCH', url: `${ACCOUNTS}/${s.account.id}`, body: { serverId: 'no-such-id' } })),
  // a multipart/* part is a container: the file would go into its preamble and arrive empty
  v('attachments.0.contentType', 'attachment of type multipart/mixed', (s) => ({ method: 'POST', url: '/api/v1/deliveries', body: { accountId: s.account.id, to: ['a@example.com'], subject: 's', text: 't', attachments: [{ filename: 'a.bin', contentType: 'multipart/mixed', contentBase64: 'aGVsbG8=' }] } })),
  v('receiveIntervalMinutes', 'PATCH of an account with interval 1441', (s) => ({ method: 'PATCH', url: `${ACCOUNTS}/${s.account.id}`, body: { receiveIntervalMinutes: 1441 } })),
];

async function setup(h: Harness): Promise<State> {
  const isp = await addServer(h, { name: 'isp', incoming: { protocol: 'pop3', host: 'pop.isp.example', apop: true } });
  const other = await addServer(h, { name: 'Other' });
  const [gmail] = await listServers(h);
  const account = await addAccount(h, isp.id, { address: 'taken@example.com' });
  return { isp, other, gmail, account };
}

function checkLanguage(err: Json, c: BadCase, lang: 'ja' | 'en'): void {
  const all = [err.message, ...(err.fields ?? []).map((f: Json) => f.message)];
  for (const m of all) {
    assert.doesNotMatch(m, /native code|undefined|NaN|\{\w+\}|\[object /, `garbled message: ${m}`);
    if (lang === 'ja') assert.match(m, JAPANESE, `not Japanese: ${m}`);
    else assert.doesNotMatch(m, JAPANESE, `not English: ${m}`);
  }
  if (!c.path) return;
  const field = (err.fields as Json[]).find((f) => f.path === c.path);
  const word = FIELD_WORDS[c.path];
  assert.ok(word, `no expected word for ${c.path}`);
  const text = lang === 'ja' ? field.message : field.message.toLowerCase();
  const expected = lang === 'ja' ? word[lang] : word[lang].toLowerCase();
  assert.ok(text.includes(expected), `the message for ${c.path} does not name it (${expected}): ${field.message}`);
  // the summary repeats the field messages, so a client showing only `message` is still told
  assert.ok(err.message.includes(field.message), `the summary lacks the field message: ${err.message}`);
}

describe('bad input', { concurrency: true }, () => {
  for (const engine of ENGINES) {
    test(`${engine}: every bad request gets a clear 4xx naming the field and stores nothing`, async (t) => {
      const h = await harness(t, engine);
      if (!h) return;
      const state = await setup(h);
      let before = await snapshot(h);
      // every case is checked, and all problems are reported together
      const failures: string[] = [];
      for (const c of CASES) {
        for (const lang of ['ja', 'en'] as const) {
          const res = await api(h, { ...c.request(state), lang });
          try {
            const err = assertError(res, c.status, c.code);
            if (c.path) assert.ok(fieldPaths(res).includes(c.path), `expected field ${c.path}, got ${res.raw.slice(0, 400)}`);
            checkLanguage(err, c, lang);
          } catch (e) {
            failures.push(`${c.what} (${lang}): ${(e as Error).message.split('\n')[0]}`);
          }
          const after = await snapshot(h);
          if (!isDeepStrictEqual(after, before)) {
            failures.push(`${c.what} (${lang}): stored something (HTTP ${res.status})`);
            before = after; // judge the next cases on their own
          }
        }
      }
      assert.deepEqual(failures, []);
    });

    test(`${engine}: what Fastify itself refuses (a bad %-escape, a body that is not UTF-8 JSON) and list lengths get our error shape in both languages`, async (t) => {
      const h = await harness(t, engine);
      if (!h) return;
      const state = await setup(h);
      const before = await snapshot(h);
      const sjis = Buffer.from([0x7b, 0x22, 0x6e, 0x61, 0x6d, 0x65, 0x22, 0x3a, 0x22, 0x83, 0x65, 0x83, 0x58, 0x83, 0x67, 0x22, 0x7d]); // {"name":"テスト"} in Shift_JIS
      const cases: { what: string; request: CallOptions; status: number; code: string; path?: string; words: { ja: string; en: string } }[] = [
        { what: 'a %-escape that is not one', request: { url: `${SERVERS}/%ZZ` }, status: 400, code: 'BAD_URL', words: { ja: 'URL', en: 'URL' } },
        { what: 'JSON in Shift_JIS, said so', request: { method: 'PATCH', url: `${SERVERS}/${state.isp.id}`, raw: sjis, headers: { 'content-type': 'application/json; charset=shift_jis' } }, status: 415, code: 'UNSUPPORTED_MEDIA_TYPE', words: { ja: 'UTF-8', en: 'UTF-8' } },
        { what: 'JSON in Shift_JIS, not said', request: { method: 'PATCH', url: `${SERVERS}/${state.isp.id}`, raw: sjis }, status: 400, code: 'MALFORMED_JSON', words: { ja: 'UTF-8', en: 'UTF-8' } },
        { what: 'a text/plain body', request: { method: 'POST', url: SERVERS, raw: 'name=x', headers: { 'content-type': 'text/plain' } }, status: 415, code: 'UNSUPPORTED_MEDIA_TYPE', words: { ja: 'application/json', en: 'application/json' } },
        { what: 'no addresses to suppress', request: { method: 'POST', url: '/api/v1/suppressions', body: { addresses: [] } }, status: 400, code: 'VALIDATION', path: 'addresses', words: { ja: '1件以上', en: 'at least one' } },
        ...['1.5', '0x10', '+5', '%205'].map((limit) => ({ what: `limit=${limit}`, request: { url: `/api/v1/audit-log?limit=${limit}` }, status: 400, code: 'VALIDATION', path: 'limit', words: { ja: '件数（limit）は整数', en: 'number of items (limit) must be an integer' } })),
        { what: 'a cursor this server did not give out', request: { url: '/api/v1/audit-log?cursor=garbage' }, status: 400, code: 'VALIDATION', path: 'cursor', words: { ja: 'ページ位置', en: 'page position' } },
        { what: 'the second To address is a number', request: { method: 'POST', url: '/api/v1/deliveries', body: { accountId: state.account.id, to: ['a@example.com', 5], subject: 's', text: 't' } }, status: 400, code: 'VALIDATION', path: 'to.1', words: { ja: '宛先（To）の2件目', en: 'to (entry 2)' } },
      ];
      const failures: string[] = [];
      for (const c of cases) {
        for (const lang of ['ja', 'en'] as const) {
          const res = await api(h, { ...c.request, lang });
          try {
            const err = assertError(res, c.status, c.code);
            const message: string = c.path ? (err.fields as Json[]).find((f) => f.path === c.path)?.message ?? `no field ${c.path} in ${res.raw}` : err.message;
            if (lang === 'ja') assert.match(err.message, JAPANESE, err.message);
            else assert.doesNotMatch(err.message, JAPANESE, err.message);
            assert.ok(message.toLowerCase().includes(c.words[lang].toLowerCase()), `${message} lacks ${c.words[lang]}`);
          } catch (e) {
            failures.push(`${c.what} (${lang}): ${(e as Error).message.split('\n')[0]}`);
          }
        }
      }
      assert.deepEqual(failures, []);
      assert.deepEqual(await snapshot(h), before);
      // an empty number is one mistake, said once
      const empty = await api(h, { url: '/api/v1/audit-log?limit=' });
      assert.deepEqual(fieldPaths(empty), ['limit'], empty.raw);

      // a trailing slash is the list, not the item with the id ''
      const slash = await api(h, { url: `${SERVERS}/` });
      assert.equal(slash.status, 200, slash.raw);
      assert.ok(Array.isArray(slash.json.items));

      // a suppressed address longer than Fastify's default 100-character path parameter can be removed again
      const long = `${'a'.repeat(64)}@${'b'.repeat(60)}.example.com`;
      assert.equal((await api(h, { method: 'POST', url: '/api/v1/suppressions', body: { addresses: [long] } })).status, 200);
      const removed = await api(h, { method: 'DELETE', url: `/api/v1/suppressions/${encodeURIComponent(long)}` });
      assert.ok(removed.status < 300, `${removed.status} ${removed.raw}`);
      const list = await api(h, { url: '/api/v1/suppressions' });
      assert.deepEqual(list.json.items, []);
    });

    test(`${engine}: unexpected characters in ids, cursors and user names are client errors, not 500`, async (t) => {
      // PostgreSQL refuses a NUL in a text parameter ("invalid byte sequence
      // for encoding UTF8: 0x00"); the API must answer 4xx, never 500.
      const h = await harness(t, engine);
      if (!h) return;
      await setup(h);
      const before = await snapshot(h);
      const nul = '%00';
      const requests: CallOptions[] = [
        { url: `${SERVERS}/a${nul}b` },
        { url: `${ACCOUNTS}/a${nul}b` },
        { method: 'PATCH', url: `${ACCOUNTS}/a${nul}b`, body: { displayName: 'x' } },
        { method: 'DELETE', url: `${ACCOUNTS}/a${nul}b` },
        { method: 'DELETE', url: `${SERVERS}/a${nul}b` },
        { url: `/api/v1/audit-log?cursor=${Buffer.from('2020-01-01\u0000|x').toString('base64url')}` },
        { url: '/api/v1/audit-log?cursor=%00' },
        { method: 'POST', url: '/api/auth/sign-in', body: { username: 'ad\u0000min', password: 'whatever-password' } },
        { method: 'POST', url: ACCOUNTS, body: accountInput('a\u0000b') },
      ];
      const failures: string[] = [];
      for (const r of requests) {
        const res = await api(h, r);
        // an unusable cursor may give an empty page or a 400; a 500 is a bug
        if (res.status >= 500 || (res.status < 400 && !r.url.includes('cursor='))) failures.push(`${r.method ?? 'GET'} ${r.url} → ${res.status} ${res.raw.slice(0, 120)}`);
        else if (res.status >= 400) assertError(res, res.status);
      }
      assert.deepEqual(failures, []);
      assert.deepEqual(await snapshot(h), before);
    });
  }
});

/** One raw HTTP/1.1 request on a real socket (inject() never reaches Node's HTTP parser). */
function rawRequest(port: number, request: Buffer): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () => socket.end(request));
    const chunks: Buffer[] = [];
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('error', reject);
    socket.on('close', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      resolve({ status: Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1]), body: text.slice(text.indexOf('\r\n\r\n') + 4) });
    });
  });
}

test("what Node's HTTP parser refuses (raw non-ASCII in the URL, a header too large) gets our error shape in the client's language", async (t) => {
  const h = await harness(t);
  if (!h) return;
  await h.app.listen({ port: 0, host: '127.0.0.1' });
  const { port } = h.app.server.address() as net.AddressInfo;
  const cases = [
    // as `curl 'http://…/messages?q=日本語'` sends it
    { what: 'UTF-8 in the URL', head: 'GET /api/v1/messages?q=日本語 HTTP/1.1', extra: '', status: 400, code: 'BAD_REQUEST' },
    { what: 'a space in the URL', head: 'GET /api/v1/mail servers HTTP/1.1', extra: '', status: 400, code: 'BAD_REQUEST' },
    { what: 'a 20 KB cookie', head: 'GET /api/v1/mail-servers HTTP/1.1', extra: `Cookie: a=${'x'.repeat(20_000)}\r\n`, status: 431, code: 'HEADERS_TOO_LARGE' },
  ];
  for (const c of cases) {
    for (const lang of ['ja', 'en'] as const) {
      const res = await rawRequest(port, Buffer.from(`${c.head}\r\nHost: 127.0.0.1\r\nAccept-Language: ${lang}\r\n${c.extra}\r\n`, 'utf8'));
      assert.equal(res.status, c.status, `${c.what} (${lang}): ${res.body}`);
      const err = (JSON.parse(res.body) as Json).error;
      assert.equal(err.code, c.code, c.what);
      if (lang === 'ja') assert.match(err.message, JAPANESE, err.message);
      else assert.match(err.message, /^The request/, err.message);
    }
  }
  // the server still answers
  assert.equal((await api(h, { url: '/api/v1/mail-servers' })).status, 200);
});
