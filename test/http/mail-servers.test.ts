// /api/v1/mail-servers on both engines: presets first with their fixed values,
// add with default ports, change, reorder, delete, and what presets may change.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ENGINES } from '../support/app-context.ts';
import { addAccount, addServer, api, assertError, auditEntries, fieldPaths, harness, listServers, serverInput, snapshot, type Json } from './helpers.ts';

const GMAIL = {
  name: 'Gmail',
  preset: 'gmail',
  incoming: { protocol: 'imap4', host: 'imap.gmail.com', port: 993, encryption: 'tls', apop: false, maxMessageBytes: null, allowInvalidCertificate: false },
  outgoing: {
    host: 'smtp.gmail.com',
    port: 465,
    encryption: 'tls',
    auth: { mechanism: 'XOAUTH2', useAccountCredentials: true },
    maxMessageBytes: null,
    perMinuteLimit: null,
    allowInvalidCertificate: false,
  },
};
const EXCHANGE = {
  name: 'Exchange Online',
  preset: 'exchange_online',
  incoming: { protocol: 'imap4', host: 'outlook.office365.com', port: 993, encryption: 'tls', apop: false, maxMessageBytes: null, allowInvalidCertificate: false },
  outgoing: {
    host: 'smtp.office365.com',
    port: 587,
    encryption: 'starttls',
    auth: { mechanism: 'XOAUTH2', useAccountCredentials: true },
    maxMessageBytes: null,
    perMinuteLimit: null,
    allowInvalidCertificate: false,
  },
};

function settingsOf(s: Json) {
  return { name: s.name, preset: s.preset, incoming: s.incoming, outgoing: s.outgoing };
}

describe('mail servers', { concurrency: true }, () => {
  for (const engine of ENGINES) describe(engine, () => {
    test(`${engine}: a fresh install lists Gmail then Exchange Online with their preset values`, async (t) => {
      const h = await harness(t, engine);
      if (!h) return;
      const items = await listServers(h);
      assert.equal(items.length, 2);
      assert.deepEqual(settingsOf(items[0]), GMAIL);
      assert.deepEqual(settingsOf(items[1]), EXCHANGE);
      assert.deepEqual(
        items.map((s) => s.position),
        [1, 2],
      );
      for (const s of items) {
        assert.equal(typeof s.id, 'string');
        assert.ok(!Number.isNaN(Date.parse(s.createdAt)));
        assert.ok(!Number.isNaN(Date.parse(s.updatedAt)));
        const one = await api(h, { url: `/api/v1/mail-servers/${s.id}` });
        assert.equal(one.status, 200);
        assert.deepEqual(one.json, s);
      }
    });

    test(`${engine}: add fills the default ports by protocol and encryption`, async (t) => {
      const h = await harness(t, engine);
      if (!h) return;
      const cases = [
        { protocol: 'pop3', encryption: undefined, port: 110, out: undefined, outPort: 587 },
        { protocol: 'pop3', encryption: 'none', port: 110, out: 'none', outPort: 587 },
        { protocol: 'pop3', encryption: 'starttls', port: 110, out: 'starttls', outPort: 587 },
        { protocol: 'pop3', encryption: 'tls', port: 995, out: 'tls', outPort: 465 },
        { protocol: 'imap4', encryption: 'none', port: 143, out: 'none', outPort: 587 },
        { protocol: 'imap4', encryption: 'starttls', port: 143, out: 'starttls', outPort: 587 },
        { protocol: 'imap4', encryption: 'tls', port: 993, out: 'tls', outPort: 465 },
      ];
      for (const [i, c] of cases.entries()) {
        const res = await api(h, {
          method: 'POST',
          url: '/api/v1/mail-servers',
          body: {
            name: `Defaults ${i}`,
            incoming: { protocol: c.protocol, host: 'mail.example.com', ...(c.encryption ? { encryption: c.encryption } : {}) },
            outgoing: { host: 'smtp.example.com', ...(c.out ? { encryption: c.out } : {}) },
          },
        });
        assert.equal(res.status, 201, res.raw);
        const s = res.json;
        assert.equal(s.incoming.port, c.port, `incoming ${c.protocol}/${c.encryption}`);
        assert.equal(s.incoming.encryption, c.encryption ?? 'none');
        assert.equal(s.outgoing.port, c.outPort, `outgoing ${c.out}`);
        assert.equal(s.outgoing.encryption, c.out ?? 'none');
        // the rest of the defaults
        assert.equal(s.preset, null);
        assert.equal(s.incoming.apop, false);
        assert.equal(s.incoming.maxMessageBytes, null);
        assert.equal(s.incoming.allowInvalidCertificate, false);
        assert.deepEqual(s.outgoing.auth, { mechanism: 'PLAIN', useAccountCredentials: true });
        assert.equal(s.outgoing.maxMessageBytes, null);
        assert.equal(s.outgoing.perMinuteLimit, null);
        assert.equal(s.outgoing.allowInvalidCertificate, false);
        const stored = await api(h, { url: `/api/v1/mail-servers/${s.id}` });
        assert.deepEqual(stored.json, s);
      }
    });

    test(`${engine}: add keeps explicit values, trims the name and normalizes hosts; the edges of each range are accepted`, async (t) => {
      const h = await harness(t, engine);
      if (!h) return;
      const host253 = `${'a'.repeat(63)}.${'b'.repeat(63)}.${'c'.repeat(63)}.${'d'.repeat(61)}`;
      assert.equal(host253.length, 253);
      const s = await addServer(h, {
        name: `  ${'名'.repeat(100)}  `,
        incoming: { protocol: 'pop3', host: 'POP.Example.COM.', port: 1, encryption: 'starttls', apop: true, maxMessageBytes: 2_147_483_647, allowInvalidCertificate: true },
        outgoing: {
          host: host253,
          port: 65535,
          encryption: 'none',
          auth: { mechanism: 'CRAM-MD5', useAccountCredentials: false },
          maxMessageBytes: 1,
          perMinuteLimit: 1,
          allowInvalidCertificate: true,
        },
      });
      assert.equal(s.name, '名'.repeat(100));
      assert.deepEqual(s.incoming, {
        protocol: 'pop3',
        host: 'pop.example.com',
        port: 1,
        encryption: 'starttls',
        apop: true,
        maxMessageBytes: 2_147_483_647,
        allowInvalidCertificate: true,
      });
      assert.deepEqual(s.outgoing, {
        host: host253,
        port: 65535,
        encryption: 'none',
        auth: { mechanism: 'CRAM-MD5', useAccountCredentials: false },
        maxMessageBytes: 1,
        perMinuteLimit: 1,
        allowInvalidCertificate: true,
      });
      const ips = await addServer(h, {
        name: 'IP literals',
        incoming: { protocol: 'imap4', host: '192.0.2.10' },
        outgoing: { host: '[2001:DB8::1]', auth: { mechanism: null } },
      });
      assert.equal(ips.incoming.host, '192.0.2.10');
      assert.equal(ips.outgoing.host, '2001:db8::1');
      assert.equal(ips.outgoing.auth.mechanism, null);
      const idn = await addServer(h, { name: 'IDN', incoming: { protocol: 'pop3', host: 'メール.例え.jp' }, outgoing: { host: 'smtp.example.jp' } });
      assert.equal(idn.incoming.host, 'メール.例え.jp');
      // what the name check reads is what is stored and connected to: full-width letters typed
      // with a Japanese IME, a soft hyphen and a zero-width space are mapped, not kept
      const typed = await addServer(h, { name: 'Typed', incoming: { protocol: 'pop3', host: 'ｐｏｐ.Ｅｘａｍｐｌｅ.ｊｐ' }, outgoing: { host: 'smtp\u00ad.exa\u200bmple.jp' } });
      assert.equal(typed.incoming.host, 'pop.example.jp');
      assert.equal(typed.outgoing.host, 'smtp.example.jp');
    });

    test(`${engine}: the others are listed after the presets in the order they were added`, async (t) => {
      const h = await harness(t, engine);
      if (!h) return;
      const a = await addServer(h, { name: 'Zeta ISP' });
      const b = await addServer(h, { name: 'alpha ISP' });
      const c = await addServer(h, { name: 'Mid ISP' });
      const items = await listServers(h);
      assert.deepEqual(
        items.map((s) => s.name),
        ['Gmail', 'Exchange Online', 'Zeta ISP', 'alpha ISP', 'Mid ISP'],
      );
      assert.deepEqual(
        items.map((s) => s.position),
        [1, 2, 3, 4, 5],
      );
      assert.deepEqual(
        items.slice(2).map((s) => s.id),
        [a.id, b.id, c.id],
      );
    });

    test(`${engine}: PATCH changes the given fields only`, async (t) => {
      const h = await harness(t, engine);
      if (!h) return;
      const s = await addServer(h, { name: 'Old name' });
      const res = await api(h, {
        method: 'PATCH',
        url: `/api/v1/mail-servers/${s.id}`,
        body: {
          name: ' New name ',
          incoming: { port: 1995, host: 'POP2.example.com', maxMessageBytes: 10_485_760 },
          outgoing: { auth: { mechanism: null }, perMinuteLimit: 30, encryption: 'tls' },
        },
      });
      assert.equal(res.status, 200, res.raw);
      const expected = structuredClone(s);
      expected.name = 'New name';
      expected.incoming.port = 1995;
      expected.incoming.host = 'pop2.example.com';
      expected.incoming.maxMessageBytes = 10_485_760;
      expected.outgoing.auth.mechanism = null;
      expected.outgoing.perMinuteLimit = 30;
      expected.outgoing.encryption = 'tls';
      assert.deepEqual(settingsOf(res.json), settingsOf(expected));
      assert.equal(res.json.id, s.id);
      assert.equal(res.json.createdAt, s.createdAt);
      const stored = await api(h, { url: `/api/v1/mail-servers/${s.id}` });
      assert.deepEqual(stored.json, res.json);

      // back to a limit of none, and auth on again
      const back = await api(h, {
        method: 'PATCH',
        url: `/api/v1/mail-servers/${s.id}`,
        body: { incoming: { maxMessageBytes: null }, outgoing: { perMinuteLimit: null, auth: { mechanism: 'LOGIN' } } },
      });
      assert.equal(back.status, 200, back.raw);
      assert.equal(back.json.incoming.maxMessageBytes, null);
      assert.equal(back.json.outgoing.perMinuteLimit, null);
      assert.deepEqual(back.json.outgoing.auth, { mechanism: 'LOGIN', useAccountCredentials: true });

      // renaming to its own name in another case is not a duplicate
      const self = await api(h, { method: 'PATCH', url: `/api/v1/mail-servers/${s.id}`, body: { name: 'NEW NAME' } });
      assert.equal(self.status, 200, self.raw);
      assert.equal(self.json.name, 'NEW NAME');

      const missing = await api(h, { method: 'PATCH', url: '/api/v1/mail-servers/00000000-0000-4000-8000-000000000000', body: { name: 'x' } });
      assertError(missing, 404, 'NOT_FOUND');
    });

    test(`${engine}: SMTP auth without a mechanism is PLAIN; XOAUTH2 is refused outside the presets, naming the field, and nothing is stored`, async (t) => {
      const h = await harness(t, engine);
      if (!h) return;
      const plain = await api(h, { method: 'POST', url: '/api/v1/mail-servers', body: serverInput({ name: 'No mechanism', outgoing: { host: 'smtp.example.com', auth: { useAccountCredentials: false } } }) });
      assert.equal(plain.status, 201, plain.raw);
      assert.deepEqual(plain.json.outgoing.auth, { mechanism: 'PLAIN', useAccountCredentials: false });

      const before = await snapshot(h);
      const add = await api(h, { method: 'POST', url: '/api/v1/mail-servers', body: serverInput({ name: 'OAuth elsewhere', outgoing: { host: 'smtp.example.com', auth: { mechanism: 'XOAUTH2' } } }) });
      assertError(add, 400);
      assert.deepEqual(fieldPaths(add), ['outgoing.auth.mechanism']);
      assert.match(add.json.error.fields[0].message, /XOAUTH2はGmailとExchange Online/);
      const change = await api(h, { method: 'PATCH', url: `/api/v1/mail-servers/${plain.json.id}`, lang: 'en', body: { outgoing: { auth: { mechanism: 'XOAUTH2' } } } });
      assertError(change, 400);
      assert.deepEqual(fieldPaths(change), ['outgoing.auth.mechanism']);
      assert.match(change.json.error.fields[0].message, /XOAUTH2 works only with the Gmail and Exchange Online/);
      assert.deepEqual(await snapshot(h), before);
    });

    test(`${engine}: reorder sets the order of the other servers; presets stay first`, async (t) => {
      const h = await harness(t, engine);
      if (!h) return;
      const a = await addServer(h, { name: 'A' });
      const b = await addServer(h, { name: 'B' });
      const c = await addServer(h, { name: 'C' });
      const res = await api(h, { method: 'PUT', url: '/api/v1/mail-servers/order', body: { ids: [c.id, a.id, b.id] } });
      assert.equal(res.status, 200, res.raw);
      const expectedNames = ['Gmail', 'Exchange Online', 'C', 'A', 'B'];
      assert.deepEqual(
        res.json.items.map((s: Json) => s.name),
        expectedNames,
      );
      const items = await listServers(h);
      assert.deepEqual(
        items.map((s) => s.name),
        expectedNames,
      );
      assert.deepEqual(
        items.map((s) => s.position),
        [1, 2, 3, 4, 5],
      );
      // a server added afterwards goes last
      await addServer(h, { name: 'D' });
      assert.deepEqual(
        (await listServers(h)).map((s) => s.name),
        [...expectedNames, 'D'],
      );
    });

    test(`${engine}: reorder refuses a missing, repeated, unknown or preset id and changes nothing`, async (t) => {
      const h = await harness(t, engine);
      if (!h) return;
      const a = await addServer(h, { name: 'A' });
      const b = await addServer(h, { name: 'B' });
      const [gmail] = await listServers(h);
      const before = await snapshot(h);
      const bad: [string, unknown][] = [
        ['missing', [b.id]],
        ['empty', []],
        ['repeated', [a.id, b.id, a.id]],
        ['unknown', [a.id, b.id, '00000000-0000-4000-8000-000000000000']],
        ['preset', [gmail.id, a.id, b.id]],
      ];
      for (const [what, ids] of bad) {
        const res = await api(h, { method: 'PUT', url: '/api/v1/mail-servers/order', body: { ids } });
        assertError(res, 400, 'VALIDATION');
        assert.ok(fieldPaths(res).includes('ids'), `${what}: ${res.raw}`);
        assert.deepEqual(await snapshot(h), before, what);
      }
    });

    test(`${engine}: delete removes a server (204); a preset (409) and an unknown id (404) are refused`, async (t) => {
      const h = await harness(t, engine);
      if (!h) return;
      const s = await addServer(h);
      const del = await api(h, { method: 'DELETE', url: `/api/v1/mail-servers/${s.id}` });
      assert.equal(del.status, 204, del.raw);
      assert.equal(del.raw, '');
      assertError(await api(h, { url: `/api/v1/mail-servers/${s.id}` }), 404, 'NOT_FOUND');
      assert.deepEqual(
        (await listServers(h)).map((x) => x.name),
        ['Gmail', 'Exchange Online'],
      );
      assertError(await api(h, { method: 'DELETE', url: `/api/v1/mail-servers/${s.id}` }), 404, 'NOT_FOUND');

      const before = await snapshot(h);
      for (const preset of await listServers(h)) {
        const res = await api(h, { method: 'DELETE', url: `/api/v1/mail-servers/${preset.id}` });
        assertError(res, 409, 'PRESET_IMMUTABLE');
      }
      assert.deepEqual(await snapshot(h), before);
    });

    test(`${engine}: deleting a server in use is refused with 409 listing the accounts`, async (t) => {
      const h = await harness(t, engine);
      if (!h) return;
      const s = await addServer(h);
      const other = await addServer(h, { name: 'Unused' });
      const acc1 = await addAccount(h, s.id, { address: 'b-support@example.com' });
      const acc2 = await addAccount(h, s.id, { address: 'a-info@example.com' });
      await addAccount(h, other.id, { address: 'elsewhere@example.com' });
      const before = await snapshot(h);
      const res = await api(h, { method: 'DELETE', url: `/api/v1/mail-servers/${s.id}` });
      const err = assertError(res, 409, 'SERVER_IN_USE');
      assert.ok(Array.isArray(err.accounts), res.raw);
      assert.deepEqual(
        err.accounts.map((a: Json) => a.address).sort(),
        ['a-info@example.com', 'b-support@example.com'],
      );
      assert.deepEqual(
        err.accounts.map((a: Json) => a.id).sort(),
        [acc1.id, acc2.id].sort(),
      );
      assert.ok(err.message.includes('a-info@example.com') && err.message.includes('b-support@example.com'), err.message);
      assert.deepEqual(await snapshot(h), before);

      // once its accounts are gone, it can be deleted
      for (const acc of [acc1, acc2]) assert.equal((await api(h, { method: 'DELETE', url: `/api/v1/mail-accounts/${acc.id}` })).status, 204);
      assert.equal((await api(h, { method: 'DELETE', url: `/api/v1/mail-servers/${s.id}` })).status, 204);
    });

    test(`${engine}: a preset changes its protocol (host and port follow), size limits and per-minute limit`, async (t) => {
      const h = await harness(t, engine);
      if (!h) return;
      const [gmail, exchange] = await listServers(h);
      const res = await api(h, { method: 'PATCH', url: `/api/v1/mail-servers/${gmail.id}`, body: { incoming: { protocol: 'pop3' } } });
      assert.equal(res.status, 200, res.raw);
      assert.deepEqual(res.json.incoming, { ...GMAIL.incoming, protocol: 'pop3', host: 'pop.gmail.com', port: 995 });
      assert.deepEqual(res.json.outgoing, GMAIL.outgoing);

      const ex = await api(h, { method: 'PATCH', url: `/api/v1/mail-servers/${exchange.id}`, body: { incoming: { protocol: 'pop3' } } });
      assert.equal(ex.status, 200, ex.raw);
      assert.deepEqual(ex.json.incoming, { ...EXCHANGE.incoming, protocol: 'pop3', host: 'outlook.office365.com', port: 995 });

      const limits = await api(h, {
        method: 'PATCH',
        url: `/api/v1/mail-servers/${gmail.id}`,
        body: { incoming: { maxMessageBytes: 26_214_400 }, outgoing: { maxMessageBytes: 36_700_160, perMinuteLimit: 60 } },
      });
      assert.equal(limits.status, 200, limits.raw);
      assert.equal(limits.json.incoming.maxMessageBytes, 26_214_400);
      assert.equal(limits.json.outgoing.maxMessageBytes, 36_700_160);
      assert.equal(limits.json.outgoing.perMinuteLimit, 60);

      const back = await api(h, { method: 'PATCH', url: `/api/v1/mail-servers/${gmail.id}`, body: { incoming: { protocol: 'imap4', maxMessageBytes: null }, outgoing: { perMinuteLimit: null } } });
      assert.equal(back.status, 200, back.raw);
      assert.deepEqual(back.json.incoming, GMAIL.incoming);
      assert.equal(back.json.outgoing.perMinuteLimit, null);

      // unchanged values of fixed fields are accepted (a form may send everything it shows)
      const same = await api(h, { method: 'PATCH', url: `/api/v1/mail-servers/${gmail.id}`, body: { name: 'Gmail', outgoing: { host: 'smtp.gmail.com', port: 465, encryption: 'tls', auth: { mechanism: 'XOAUTH2' } } } });
      assert.equal(same.status, 200, same.raw);
      assert.equal((await listServers(h))[0].id, gmail.id);
    });

    test(`${engine}: a preset refuses changes to its name, hosts, ports, encryption and authentication, naming the field`, async (t) => {
      const h = await harness(t, engine);
      if (!h) return;
      const [gmail, exchange] = await listServers(h);
      const before = await snapshot(h);
      const cases: [string, unknown][] = [
        ['name', { name: 'My Gmail' }],
        ['incoming.host', { incoming: { host: 'imap.evil.example' } }],
        ['incoming.port', { incoming: { port: 143 } }],
        ['incoming.encryption', { incoming: { encryption: 'none' } }],
        ['incoming.apop', { incoming: { protocol: 'pop3', apop: true } }],
        ['incoming.allowInvalidCertificate', { incoming: { allowInvalidCertificate: true } }],
        ['outgoing.host', { outgoing: { host: 'smtp.evil.example' } }],
        ['outgoing.port', { outgoing: { port: 25 } }],
        ['outgoing.encryption', { outgoing: { encryption: 'none' } }],
        ['outgoing.auth.mechanism', { outgoing: { auth: { mechanism: 'PLAIN' } } }],
        ['outgoing.auth.mechanism', { outgoing: { auth: { mechanism: null } } }],
        ['outgoing.auth.useAccountCredentials', { outgoing: { auth: { useAccountCredentials: false } } }],
        ['outgoing.allowInvalidCertificate', { outgoing: { allowInvalidCertificate: true } }],
      ];
      for (const preset of [gmail, exchange]) {
        for (const [path, body] of cases) {
          for (const lang of ['ja', 'en'] as const) {
            const res = await api(h, { method: 'PATCH', url: `/api/v1/mail-servers/${preset.id}`, body, lang });
            const err = assertError(res, 400, 'VALIDATION');
            assert.ok(fieldPaths(res).includes(path), `${preset.name} ${path}: ${res.raw}`);
            const field = err.fields.find((f: Json) => f.path === path);
            assert.ok(field.message.includes(preset.name), field.message);
          }
        }
      }
      assert.deepEqual(await snapshot(h), before);
    });

    test(`${engine}: a preset accepts its protocol change together with the host and port the form then shows`, async (t) => {
      // A form that sends every field it shows (the code's own promise in
      // applyServerPatch: "the same value is accepted, so a form that sends
      // everything still works") sends the POP3 host and port with protocol=pop3.
      const h = await harness(t, engine);
      if (!h) return;
      const [gmail] = await listServers(h);
      const res = await api(h, {
        method: 'PATCH',
        url: `/api/v1/mail-servers/${gmail.id}`,
        body: { incoming: { protocol: 'pop3', host: 'pop.gmail.com', port: 995, encryption: 'tls' } },
      });
      assert.equal(res.status, 200, res.raw);
      assert.equal(res.json.incoming.host, 'pop.gmail.com');
      assert.equal(res.json.incoming.port, 995);
    });

    test(`${engine}: every successful change is in the audit log with the API token as actor`, async (t) => {
      const h = await harness(t, engine, 'deploy-bot');
      if (!h) return;
      const s = await addServer(h, { name: 'Audited' });
      await api(h, { method: 'PATCH', url: `/api/v1/mail-servers/${s.id}`, body: { incoming: { port: 1110 } } });
      await api(h, { method: 'PUT', url: '/api/v1/mail-servers/order', body: { ids: [s.id] } });
      await api(h, { method: 'DELETE', url: `/api/v1/mail-servers/${s.id}` });
      const entries = (await auditEntries(h)).filter((e) => e.targetType === 'mail_server');
      const byAction = (a: string) => entries.filter((e) => e.action === a);
      assert.equal(byAction('mail_server.add').length, 1);
      assert.equal(byAction('mail_server.change').length, 1);
      assert.equal(byAction('mail_server.reorder').length, 1);
      assert.equal(byAction('mail_server.delete').length, 1);
      for (const e of entries) assert.equal(e.actor, 'token:deploy-bot');
      assert.deepEqual(byAction('mail_server.change')[0].fields, ['incoming.port']);
      assert.equal(byAction('mail_server.delete')[0].targetId, s.id);
      assert.equal(byAction('mail_server.delete')[0].targetName, 'Audited');
    });
  });
});
