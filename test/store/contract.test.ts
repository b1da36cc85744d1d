// The storage contract: every repository exercised directly, once per engine
// (SQLite and PostgreSQL), so one Kysely code path is held to one behaviour.
// PostgreSQL tests skip when it is not installed here and CI is not set.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { sql } from 'kysely';
import type { MailServer } from '../../src/domain/mail-server.ts';
import { PRESET_ORDER, PRESETS } from '../../src/domain/presets.ts';
import type { AppContext } from '../../src/services/context.ts';
import { isForeignKeyViolation, isUniqueViolation } from '../../src/services/util.ts';
import { sha256 } from '../../src/store/auth.ts';
import { SQLITE_FILE_NAME } from '../../src/store/database.ts';
import type { AccountRowValues } from '../../src/store/mail-accounts.ts';
import { migrateToLatest, pendingMigrations } from '../../src/store/migrate.ts';
import { readReceiveRunHistograms, recordReceiveRun, RUN_DURATION_BUCKETS } from '../../src/store/receive-run-stats.ts';
import { contextFor, ENGINES } from '../support/app-context.ts';

type ServerSettings = Pick<MailServer, 'name' | 'incoming' | 'outgoing'>;

function serverSettings(name: string, over: { incoming?: Partial<MailServer['incoming']>; outgoing?: Partial<MailServer['outgoing']> } = {}): ServerSettings {
  return {
    name,
    incoming: {
      protocol: 'pop3',
      host: 'pop.example.com',
      port: 995,
      encryption: 'tls',
      apop: false,
      maxMessageBytes: null,
      allowInvalidCertificate: false,
      ...over.incoming,
    },
    outgoing: {
      host: 'smtp.example.com',
      port: 587,
      encryption: 'starttls',
      auth: { mechanism: 'PLAIN', useAccountCredentials: true },
      maxMessageBytes: null,
      perMinuteLimit: null,
      allowInvalidCertificate: false,
      ...over.outgoing,
    },
  };
}

const NOW = '2024-05-01T00:00:00.000Z';
const LATER = '2024-05-02T00:00:00.000Z';

async function addServer(ctx: AppContext, name: string, settings: ServerSettings = serverSettings(name)): Promise<string> {
  const id = `srv-${name.toLowerCase().replace(/\W+/g, '-')}-${Math.random().toString(36).slice(2, 8)}`;
  await ctx.repos.servers.insert(ctx.db.kysely, { id, nameKey: name.toLowerCase(), settings, now: NOW });
  return id;
}

function accountValues(serverId: string, address: string, over: Partial<AccountRowValues> = {}): AccountRowValues {
  return {
    display_name: `Box ${address}`,
    server_id: serverId,
    address,
    address_key: address.trim().toLowerCase(),
    from_name: 'Support',
    username: address,
    password_enc: 'v1:sealed',
    smtp_username: null,
    smtp_password_enc: null,
    leave_mode: 'delete',
    leave_days: null,
    receive_interval_minutes: 5,
    enabled: 1,
    ...over,
  };
}

async function rejection(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (err) {
    return err;
  }
  assert.fail('expected the promise to reject');
}

for (const engine of ENGINES) {
  describe(engine, () => {
    describe('migrations', () => {
      it('are idempotent: a second run applies nothing and nothing is pending', async (t) => {
        const ctx = await contextFor(t, engine);
        if (!ctx) return;
        assert.deepEqual(await migrateToLatest(ctx.db), []);
        assert.deepEqual(await pendingMigrations(ctx.db), []);
        const presets = await ctx.db.kysely.selectFrom('mail_servers').select('preset').where('preset', 'is not', null).execute();
        assert.equal(presets.length, 2);
      });

      it('seed the two presets exactly once', async (t) => {
        const ctx = await contextFor(t, engine);
        if (!ctx) return;
        const rows = await ctx.db.kysely.selectFrom('mail_servers').selectAll().execute();
        assert.equal(rows.length, 2);
        assert.deepEqual(rows.map((r) => r.preset).sort(), [...PRESET_ORDER].sort());
        for (const r of rows) {
          const p = PRESETS[r.preset as keyof typeof PRESETS];
          assert.equal(r.name, p.name);
          assert.equal(r.incoming_host, p.incoming.imap4.host);
          assert.equal(r.outgoing_host, p.outgoing.host);
          assert.equal(r.outgoing_auth_mechanism, 'XOAUTH2');
        }
      });
    });

    describe('MailServerRepository', () => {
      it('lists presets first in fixed order, then the others by position', async (t) => {
        const ctx = await contextFor(t, engine);
        if (!ctx) return;
        await addServer(ctx, 'Zeta');
        await addServer(ctx, 'Alpha');
        await addServer(ctx, 'Mid');
        const list = await ctx.repos.servers.list();
        assert.deepEqual(
          list.map((s) => [s.name, s.preset, s.position]),
          [
            ['Gmail', 'gmail', 1],
            ['Exchange Online', 'exchange_online', 2],
            ['Zeta', null, 3],
            ['Alpha', null, 4],
            ['Mid', null, 5],
          ],
        );
      });

      it('insert assigns increasing positions after the existing ones', async (t) => {
        const ctx = await contextFor(t, engine);
        if (!ctx) return;
        const a = await addServer(ctx, 'A');
        const b = await addServer(ctx, 'B');
        await ctx.repos.servers.reorder(ctx.db.kysely, [b, a], NOW);
        const c = await addServer(ctx, 'C');
        const rows = await ctx.db.kysely.selectFrom('mail_servers').select(['id', 'position']).where('preset', 'is', null).execute();
        const pos = new Map(rows.map((r) => [r.id, r.position]));
        assert.equal(pos.get(b), 1);
        assert.equal(pos.get(a), 2);
        assert.equal(pos.get(c), 3);
      });

      it('insert then get returns every setting as written', async (t) => {
        const ctx = await contextFor(t, engine);
        if (!ctx) return;
        const settings = serverSettings('Sakura Mail', {
          incoming: { protocol: 'pop3', host: 'pop.sakura.ne.jp', port: 110, encryption: 'none', apop: true, maxMessageBytes: 10_000_000 },
          outgoing: { host: 'smtp.sakura.ne.jp', port: 465, encryption: 'tls', auth: { mechanism: 'CRAM-MD5', useAccountCredentials: false }, perMinuteLimit: 30 },
        });
        const id = await addServer(ctx, 'Sakura Mail', settings);
        const s = await ctx.repos.servers.get(id);
        assert.ok(s);
        assert.equal(s.id, id);
        assert.equal(s.preset, null);
        assert.equal(s.createdAt, NOW);
        assert.equal(s.updatedAt, NOW);
        assert.deepEqual({ name: s.name, incoming: s.incoming, outgoing: s.outgoing }, settings);
        assert.equal(await ctx.repos.servers.get('no-such-id'), undefined);
      });

      it('update changes settings, name key and updated_at', async (t) => {
        const ctx = await contextFor(t, engine);
        if (!ctx) return;
        const id = await addServer(ctx, 'Old Name');
        const next = serverSettings('New Name', { incoming: { protocol: 'imap4', port: 993 }, outgoing: { maxMessageBytes: 25_000_000 } });
        await ctx.repos.servers.update(ctx.db.kysely, id, 'new name', next, LATER);
        const s = await ctx.repos.servers.get(id);
        assert.ok(s);
        assert.deepEqual({ name: s.name, incoming: s.incoming, outgoing: s.outgoing }, next);
        assert.equal(s.createdAt, NOW);
        assert.equal(s.updatedAt, LATER);
        assert.deepEqual(await ctx.repos.servers.findByNameKey('new name'), { id });
        assert.equal(await ctx.repos.servers.findByNameKey('old name'), undefined);
      });

      it('delete removes a server but refuses presets (the preset rows stay)', async (t) => {
        const ctx = await contextFor(t, engine);
        if (!ctx) return;
        const id = await addServer(ctx, 'Doomed');
        const before = await ctx.repos.servers.list();
        for (const preset of before.filter((s) => s.preset)) await ctx.repos.servers.delete(ctx.db.kysely, preset.id);
        await ctx.repos.servers.delete(ctx.db.kysely, id);
        const after = await ctx.repos.servers.list();
        assert.deepEqual(
          after.map((s) => s.preset),
          ['gmail', 'exchange_online'],
        );
        assert.equal(await ctx.repos.servers.get(id), undefined);
      });

      it('reorder sets the order of the non-preset servers', async (t) => {
        const ctx = await contextFor(t, engine);
        if (!ctx) return;
        const a = await addServer(ctx, 'A');
        const b = await addServer(ctx, 'B');
        const c = await addServer(ctx, 'C');
        await ctx.repos.servers.reorder(ctx.db.kysely, [c, a, b], LATER);
        const list = await ctx.repos.servers.list();
        assert.deepEqual(
          list.map((s) => s.name),
          ['Gmail', 'Exchange Online', 'C', 'A', 'B'],
        );
        assert.deepEqual(
          list.map((s) => s.position),
          [1, 2, 3, 4, 5],
        );
        assert.ok(list.filter((s) => !s.preset).every((s) => s.updatedAt === LATER));
      });

      it('findByNameKey finds by the stored key only', async (t) => {
        const ctx = await contextFor(t, engine);
        if (!ctx) return;
        const id = await addServer(ctx, 'Example ISP');
        assert.deepEqual(await ctx.repos.servers.findByNameKey('example isp'), { id });
        assert.equal(await ctx.repos.servers.findByNameKey('example'), undefined);
        const gmail = (await ctx.repos.servers.list()).find((s) => s.preset === 'gmail');
        assert.ok(gmail);
        assert.deepEqual(await ctx.repos.servers.findByNameKey('gmail'), { id: gmail.id });
      });

      it('a duplicate name key is refused with an error isUniqueViolation recognizes', async (t) => {
        const ctx = await contextFor(t, engine);
        if (!ctx) return;
        await addServer(ctx, 'Twin');
        const err = await rejection(addServer(ctx, 'Twin'));
        assert.ok(isUniqueViolation(err), `not recognized as a unique violation: ${String(err)}`);
        assert.ok(!isForeignKeyViolation(err));
        // a duplicate of a preset's name too
        const err2 = await rejection(addServer(ctx, 'Gmail'));
        assert.ok(isUniqueViolation(err2), `not recognized as a unique violation: ${String(err2)}`);
        const names = (await ctx.repos.servers.list()).map((s) => s.name);
        assert.deepEqual(names, ['Gmail', 'Exchange Online', 'Twin']);
      });
    });

    describe('MailAccountRepository', () => {
      it('insert, getRow, getRowByAddress, list, update, delete', async (t) => {
        const ctx = await contextFor(t, engine);
        if (!ctx) return;
        const srv = await addServer(ctx, 'Host');
        const repo = ctx.repos.accounts;
        await repo.insert(ctx.db.kysely, 'acc-b', accountValues(srv, 'Sales@Example.com'), NOW);
        await repo.insert(ctx.db.kysely, 'acc-a', accountValues(srv, 'info@example.com', { leave_mode: 'days', leave_days: 14, enabled: 0 }), NOW);

        const row = await repo.getRow('acc-b');
        assert.ok(row);
        assert.equal(row.address, 'Sales@Example.com');
        assert.equal(row.address_key, 'sales@example.com');
        assert.equal(row.server_id, srv);
        assert.equal(row.consecutive_failures, 0);
        assert.equal(row.oauth_token_enc, null);
        assert.equal(row.created_at, NOW);
        assert.equal(await repo.getRow('nope'), undefined);

        assert.equal((await repo.getRowByAddress('  SALES@example.COM '))?.id, 'acc-b');
        assert.equal(await repo.getRowByAddress('other@example.com'), undefined);
        assert.deepEqual(await repo.findByAddressKey('info@example.com'), { id: 'acc-a' });

        const list = await repo.list();
        assert.deepEqual(
          list.map((a) => a.id),
          ['acc-a', 'acc-b'],
        );
        const info = list[0];
        assert.ok(info);
        assert.deepEqual(info.leaveOnServer, { mode: 'days', days: 14 });
        assert.equal(info.enabled, false);
        assert.equal(info.hasPassword, true);
        assert.equal(info.hasSmtpPassword, false);
        assert.equal(list[1]?.enabled, true);
        assert.deepEqual(list[1]?.leaveOnServer, { mode: 'delete' });

        await repo.update(ctx.db.kysely, 'acc-b', { display_name: 'Sales desk', smtp_password_enc: 'v1:x', receive_interval_minutes: 15 }, LATER);
        const updated = await repo.getRow('acc-b');
        assert.ok(updated);
        assert.equal(updated.display_name, 'Sales desk');
        assert.equal(updated.smtp_password_enc, 'v1:x');
        assert.equal(updated.receive_interval_minutes, 15);
        assert.equal(updated.address, 'Sales@Example.com');
        assert.equal(updated.created_at, NOW);
        assert.equal(updated.updated_at, LATER);

        await repo.delete(ctx.db.kysely, 'acc-a');
        assert.equal(await repo.getRow('acc-a'), undefined);
        assert.deepEqual(
          (await repo.list()).map((a) => a.id),
          ['acc-b'],
        );
      });

      it('a duplicate address key is refused with an error isUniqueViolation recognizes', async (t) => {
        const ctx = await contextFor(t, engine);
        if (!ctx) return;
        const srv = await addServer(ctx, 'Host');
        await ctx.repos.accounts.insert(ctx.db.kysely, 'a1', accountValues(srv, 'x@example.com'), NOW);
        const err = await rejection(ctx.repos.accounts.insert(ctx.db.kysely, 'a2', accountValues(srv, 'X@Example.com'), NOW));
        assert.ok(isUniqueViolation(err), `not recognized as a unique violation: ${String(err)}`);
      });

      it('usingServer lists the accounts of one server by address', async (t) => {
        const ctx = await contextFor(t, engine);
        if (!ctx) return;
        const s1 = await addServer(ctx, 'One');
        const s2 = await addServer(ctx, 'Two');
        await ctx.repos.accounts.insert(ctx.db.kysely, 'a-z', accountValues(s1, 'zz@example.com'), NOW);
        await ctx.repos.accounts.insert(ctx.db.kysely, 'a-b', accountValues(s1, 'bb@example.com'), NOW);
        await ctx.repos.accounts.insert(ctx.db.kysely, 'a-o', accountValues(s2, 'other@example.com'), NOW);
        assert.deepEqual(await ctx.repos.accounts.usingServer(s1), [
          { id: 'a-b', address: 'bb@example.com' },
          { id: 'a-z', address: 'zz@example.com' },
        ]);
        assert.deepEqual(await ctx.repos.accounts.usingServer(s2), [{ id: 'a-o', address: 'other@example.com' }]);
        assert.deepEqual(await ctx.repos.accounts.usingServer('unused'), []);
      });

      it('the foreign key refuses deleting a used server and unknown servers, recognized by isForeignKeyViolation', async (t) => {
        const ctx = await contextFor(t, engine);
        if (!ctx) return;
        const srv = await addServer(ctx, 'Used');
        await ctx.repos.accounts.insert(ctx.db.kysely, 'acc', accountValues(srv, 'box@example.com'), NOW);

        const err = await rejection(ctx.repos.servers.delete(ctx.db.kysely, srv));
        assert.ok(isForeignKeyViolation(err), `not recognized as a foreign key violation: ${String(err)}`);
        assert.ok(!isUniqueViolation(err));
        assert.ok(await ctx.repos.servers.get(srv));

        const err2 = await rejection(ctx.repos.accounts.insert(ctx.db.kysely, 'orphan', accountValues('no-such-server', 'orphan@example.com'), NOW));
        assert.ok(isForeignKeyViolation(err2), `not recognized as a foreign key violation: ${String(err2)}`);
        assert.equal(await ctx.repos.accounts.getRow('orphan'), undefined);

        // once the account is gone the server can go
        await ctx.repos.accounts.delete(ctx.db.kysely, 'acc');
        await ctx.repos.servers.delete(ctx.db.kysely, srv);
        assert.equal(await ctx.repos.servers.get(srv), undefined);
      });
    });

    describe('AuditLogRepository', () => {
      it('lists newest first with field names as an array', async (t) => {
        const ctx = await contextFor(t, engine);
        if (!ctx) return;
        const audit = ctx.repos.audit;
        await audit.append(ctx.db.kysely, { at: '2024-01-02T00:00:00.000Z', actor: 'admin', action: 'b', targetType: 'mail_server', targetId: 's1', targetName: 'One', fields: ['name', 'incoming.port'] });
        await audit.append(ctx.db.kysely, { at: '2024-01-03T00:00:00.000Z', actor: 'token:ci', action: 'c', targetType: 'mail_account', targetId: null, targetName: null, fields: [] });
        await audit.append(ctx.db.kysely, { at: '2024-01-01T00:00:00.000Z', actor: 'admin', action: 'a', targetType: 'mail_server', targetId: 's1', targetName: 'One', fields: ['position'] });
        const page = await audit.list({ limit: 10 });
        assert.equal(page.nextCursor, null);
        assert.deepEqual(
          page.items.map((e) => e.action),
          ['c', 'b', 'a'],
        );
        const [c, b] = page.items;
        assert.ok(c && b);
        assert.deepEqual(b.fields, ['name', 'incoming.port']);
        assert.equal(b.targetId, 's1');
        assert.equal(b.targetName, 'One');
        assert.equal(c.actor, 'token:ci');
        assert.equal(c.targetType, 'mail_account');
        assert.equal(c.targetId, null);
        assert.deepEqual(c.fields, []);
      });

      it('append without a time stamps it now', async (t) => {
        const ctx = await contextFor(t, engine);
        if (!ctx) return;
        const before = new Date().toISOString();
        await ctx.repos.audit.append(ctx.db.kysely, { actor: 'admin', action: 'x', targetType: 't', targetId: null, targetName: null, fields: [] });
        const after = new Date().toISOString();
        const [e] = (await ctx.repos.audit.list({ limit: 1 })).items;
        assert.ok(e);
        assert.ok(e.at >= before && e.at <= after, `${e.at} not within ${before}..${after}`);
      });

      it('cursor paging over 25 entries with limit 10 returns each exactly once, in order', async (t) => {
        const ctx = await contextFor(t, engine);
        if (!ctx) return;
        // three entries share each timestamp, so the id tiebreak is exercised too
        for (let i = 0; i < 25; i++) {
          const at = new Date(Date.UTC(2024, 0, 1, 0, 0, Math.floor(i / 3))).toISOString();
          await ctx.repos.audit.append(ctx.db.kysely, { at, actor: 'admin', action: `act-${i}`, targetType: 't', targetId: String(i), targetName: null, fields: [] });
        }
        const seen: { id: string; at: string; targetId: string | null }[] = [];
        const sizes: number[] = [];
        let cursor: string | undefined;
        for (let guard = 0; guard < 10; guard++) {
          const page = await ctx.repos.audit.list({ limit: 10, before: cursor });
          sizes.push(page.items.length);
          seen.push(...page.items);
          if (!page.nextCursor) break;
          cursor = page.nextCursor;
        }
        assert.deepEqual(sizes, [10, 10, 5]);
        assert.equal(new Set(seen.map((e) => e.id)).size, 25);
        assert.deepEqual(
          seen.map((e) => Number(e.targetId)).sort((x, y) => x - y),
          Array.from({ length: 25 }, (_, i) => i),
        );
        for (let i = 1; i < seen.length; i++) {
          const prev = seen[i - 1];
          const cur = seen[i];
          assert.ok(prev && cur);
          assert.ok(prev.at > cur.at || (prev.at === cur.at && prev.id > cur.id), `entry ${i} out of order`);
        }
        // the same as one big page
        const all = await ctx.repos.audit.list({ limit: 100 });
        assert.deepEqual(
          all.items.map((e) => e.id),
          seen.map((e) => e.id),
        );
      });

      it('no next cursor when the entries fill the last page exactly', async (t) => {
        const ctx = await contextFor(t, engine);
        if (!ctx) return;
        for (let i = 0; i < 10; i++) {
          await ctx.repos.audit.append(ctx.db.kysely, { at: `2024-01-01T00:00:${String(i).padStart(2, '0')}.000Z`, actor: 'a', action: 'x', targetType: 't', targetId: null, targetName: null, fields: [] });
        }
        const page = await ctx.repos.audit.list({ limit: 10 });
        assert.equal(page.items.length, 10);
        assert.equal(page.nextCursor, null);
        const small = await ctx.repos.audit.list({ limit: 5 });
        assert.ok(small.nextCursor);
        const rest = await ctx.repos.audit.list({ limit: 5, before: small.nextCursor });
        assert.equal(rest.items.length, 5);
        assert.equal(rest.nextCursor, null);
      });
    });

    describe('AdminRepository', () => {
      it('insert, count, findByUsername (case and space insensitive), get, setLanguage, unique username', async (t) => {
        const ctx = await contextFor(t, engine);
        if (!ctx) return;
        const admins = ctx.repos.admins;
        assert.equal(await admins.count(), 0);
        const id = await admins.insert(' Alice ', '$argon2id$fake');
        const count = await admins.count();
        assert.equal(count, 1);
        assert.equal(typeof count, 'number');
        const row = await admins.findByUsername('ALICE');
        assert.ok(row);
        assert.equal(row.id, id);
        assert.equal(row.username, 'Alice');
        assert.equal(row.password_hash, '$argon2id$fake');
        assert.equal(row.language, null);
        assert.equal(await admins.findByUsername('bob'), undefined);
        assert.equal((await admins.get(id))?.username, 'Alice');
        assert.equal(await admins.get('nope'), undefined);
        await admins.setLanguage(id, 'ja');
        assert.equal((await admins.get(id))?.language, 'ja');
        const err = await rejection(admins.insert('alice', 'other'));
        assert.ok(isUniqueViolation(err), `not recognized as a unique violation: ${String(err)}`);
        assert.equal(await admins.count(), 1);
      });
    });

    describe('SessionRepository', () => {
      it('set, get, overwrite, destroy; the session id is stored hashed', async (t) => {
        const ctx = await contextFor(t, engine);
        if (!ctx) return;
        const sessions = ctx.repos.sessions;
        const future = new Date(Date.now() + 3_600_000).toISOString();
        await sessions.set('sid-1', '{"adminId":"a"}', future);
        assert.equal(await sessions.get('sid-1'), '{"adminId":"a"}');
        assert.equal(await sessions.get('sid-2'), undefined);
        await sessions.set('sid-1', '{"adminId":"b"}', future);
        assert.equal(await sessions.get('sid-1'), '{"adminId":"b"}');
        const rows = await ctx.db.kysely.selectFrom('sessions').selectAll().execute();
        assert.equal(rows.length, 1);
        assert.equal(rows[0]?.id_hash, sha256('sid-1'));
        assert.ok(!JSON.stringify(rows).includes('sid-1'));
        await sessions.destroy('sid-1');
        assert.equal(await sessions.get('sid-1'), undefined);
        await sessions.destroy('sid-1'); // destroying twice is fine
      });

      it('expired sessions are not returned, and purgeExpired removes only those', async (t) => {
        const ctx = await contextFor(t, engine);
        if (!ctx) return;
        const sessions = ctx.repos.sessions;
        const past = new Date(Date.now() - 60_000).toISOString();
        const future = new Date(Date.now() + 3_600_000).toISOString();
        await sessions.set('old-1', 'x', past);
        await sessions.set('old-2', 'y', past);
        await sessions.set('live', 'z', future);
        assert.equal(await sessions.get('old-1'), undefined);
        // reading an expired session also removed it
        const afterGet = await ctx.db.kysely.selectFrom('sessions').select('id_hash').execute();
        assert.equal(afterGet.length, 2);
        await sessions.purgeExpired();
        const left = await ctx.db.kysely.selectFrom('sessions').select('id_hash').execute();
        assert.deepEqual(
          left.map((r) => r.id_hash),
          [sha256('live')],
        );
        assert.equal(await sessions.get('live'), 'z');
      });
    });

    describe('ApiTokenRepository', () => {
      it('insert, verify, list, revoke; the plain token is nowhere in the table', async (t) => {
        const ctx = await contextFor(t, engine);
        if (!ctx) return;
        const tokens = ctx.repos.tokens;
        const plain = 'ybn_3c6f1e0d9a8b7c6d5e4f3a2b1c0d9e8f';
        const id = await tokens.insert('ci', plain);
        const other = await tokens.insert('backup', 'ybn_other_token_value');

        const rows = await ctx.db.kysely.selectFrom('api_tokens').selectAll().execute();
        assert.equal(rows.length, 2);
        assert.ok(!JSON.stringify(rows).includes(plain), 'plain token stored');
        assert.ok(!JSON.stringify(rows).includes(plain.slice(4)), 'token body stored');
        assert.equal(rows.find((r) => r.id === id)?.token_hash, sha256(plain));

        assert.deepEqual(await tokens.findActiveByName('ci'), { id });
        assert.equal(await tokens.findActiveByName('nope'), undefined);

        assert.equal((await tokens.list()).find((x) => x.id === id)?.lastUsedAt, null);
        assert.deepEqual(await tokens.verify(plain), { id, name: 'ci' });
        assert.equal(await tokens.verify('ybn_wrong'), undefined);
        const listed = await tokens.list();
        assert.deepEqual(listed.map((x) => x.name).sort(), ['backup', 'ci']);
        const ci = listed.find((x) => x.id === id);
        assert.ok(ci);
        assert.equal(typeof ci.lastUsedAt, 'string');
        assert.equal(ci.revokedAt, null);
        assert.ok(!JSON.stringify(listed).includes(plain));

        assert.equal(await tokens.revoke('ci'), true);
        assert.equal(await tokens.revoke('ci'), false);
        assert.equal(await tokens.revoke('nope'), false);
        assert.equal(await tokens.verify(plain), undefined);
        assert.equal(await tokens.findActiveByName('ci'), undefined);
        assert.equal(typeof (await tokens.list()).find((x) => x.id === id)?.revokedAt, 'string');
        // the other token is untouched
        assert.deepEqual(await tokens.verify('ybn_other_token_value'), { id: other, name: 'backup' });
      });
    });

    describe('SettingsRepository', () => {
      it('get, set, overwrite, delete', async (t) => {
        const ctx = await contextFor(t, engine);
        if (!ctx) return;
        const settings = ctx.repos.settings;
        assert.equal(await settings.get('ui.language'), undefined);
        await settings.set('ui.language', 'ja');
        await settings.set('other', '日本語の値');
        assert.equal(await settings.get('ui.language'), 'ja');
        await settings.set('ui.language', 'en');
        assert.equal(await settings.get('ui.language'), 'en');
        assert.equal(await settings.get('other'), '日本語の値');
        await settings.delete('ui.language');
        assert.equal(await settings.get('ui.language'), undefined);
        assert.equal(await settings.get('other'), '日本語の値');
        await settings.delete('ui.language');
      });
    });

    describe('oversize notices (MessageRepository)', () => {
      it('upsertNotice fills in From/Subject got later, never erases them, and follows the size', async (t) => {
        const ctx = await contextFor(t, engine);
        if (!ctx) return;
        const srv = await addServer(ctx, 'Host');
        await ctx.repos.accounts.insert(ctx.db.kysely, 'acc-n', accountValues(srv, 'n@example.com'), NOW);
        const m = ctx.repos.messages;
        const notice = (over: { size?: number; fromText?: string | null; subject?: string | null; now?: string }) =>
          m.upsertNotice(ctx.db.kysely, { accountId: 'acc-n', uid: 'u1', size: 100, fromText: null, subject: null, now: NOW, ...over });
        const read = async () => (await m.notices('acc-n')).map((n) => [n.uid, n.size, n.from, n.subject, n.firstSeenAt]);
        await notice({}); // the server refused TOP
        assert.deepEqual(await read(), [['u1', 100, null, null, NOW]]);
        await notice({ fromText: 'A <a@example.org>', subject: '件名', now: LATER });
        assert.deepEqual(await read(), [['u1', 100, 'A <a@example.org>', '件名', NOW]]);
        await notice({ size: 120, now: LATER }); // refused again: what we have stays
        assert.deepEqual(await read(), [['u1', 120, 'A <a@example.org>', '件名', NOW]]);
      });
    });

    describe('receive run histogram', () => {
      it('counts runs per outcome into cumulative buckets, bounds inclusive, with their sum', async (t) => {
        const ctx = await contextFor(t, engine);
        if (!ctx) return;
        assert.deepEqual(await readReceiveRunHistograms(ctx.db), []);
        for (const [o, s] of [['ok', 0.1], ['ok', 0.05], ['ok', 0.3], ['failed', 700], ['ok', 0.1]] as const) await recordReceiveRun(ctx.db, o, s);
        const [failed, ok] = await readReceiveRunHistograms(ctx.db);
        assert.equal(RUN_DURATION_BUCKETS.length, 12);
        assert.deepEqual(ok, { outcome: 'ok', cumulative: [3, 3, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4], count: 4, sum: ok!.sum });
        assert.ok(Math.abs(ok!.sum - 0.55) < 1e-9, String(ok!.sum));
        assert.deepEqual(failed, { outcome: 'failed', cumulative: new Array(12).fill(0), count: 1, sum: 700 });
      });
    });

    describe('values and transactions', () => {
      it('integers come back as JS numbers, at the 32-bit maximum too', async (t) => {
        const ctx = await contextFor(t, engine);
        if (!ctx) return;
        const big = 2_147_483_647;
        const id = await addServer(ctx, 'Big', serverSettings('Big', { incoming: { maxMessageBytes: big }, outgoing: { maxMessageBytes: big - 1, perMinuteLimit: 1_000_000 } }));
        const row = await ctx.db.kysely.selectFrom('mail_servers').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
        for (const col of ['position', 'incoming_port', 'incoming_apop', 'incoming_max_bytes', 'outgoing_port', 'outgoing_max_bytes', 'outgoing_per_minute_limit', 'outgoing_use_account_credentials'] as const) {
          assert.equal(typeof row[col], 'number', `${col} is ${typeof row[col]}`);
        }
        assert.equal(row.incoming_max_bytes, big);
        const s = await ctx.repos.servers.get(id);
        assert.equal(s?.incoming.maxMessageBytes, big);
        assert.equal(s?.outgoing.maxMessageBytes, big - 1);
        assert.equal(s?.outgoing.perMinuteLimit, 1_000_000);
        assert.equal(s?.incoming.port, 995);

        await ctx.repos.accounts.insert(ctx.db.kysely, 'acc', accountValues(id, 'n@example.com', { leave_mode: 'days', leave_days: 3650, receive_interval_minutes: 1440 }), NOW);
        const acc = await ctx.repos.accounts.getRow('acc');
        assert.ok(acc);
        for (const col of ['leave_days', 'receive_interval_minutes', 'enabled', 'consecutive_failures'] as const) {
          assert.equal(typeof acc[col], 'number', `${col} is ${typeof acc[col]}`);
        }
        assert.equal(acc.leave_days, 3650);
        assert.equal(acc.receive_interval_minutes, 1440);
      });

      it('booleans round-trip both ways', async (t) => {
        const ctx = await contextFor(t, engine);
        if (!ctx) return;
        const on = await addServer(
          ctx,
          'On',
          serverSettings('On', {
            incoming: { apop: true, allowInvalidCertificate: true },
            outgoing: { auth: { mechanism: null, useAccountCredentials: true }, allowInvalidCertificate: true },
          }),
        );
        const off = await addServer(
          ctx,
          'Off',
          serverSettings('Off', { outgoing: { auth: { mechanism: 'LOGIN', useAccountCredentials: false } } }),
        );
        const a = await ctx.repos.servers.get(on);
        const b = await ctx.repos.servers.get(off);
        assert.ok(a && b);
        assert.equal(a.incoming.apop, true);
        assert.equal(a.incoming.allowInvalidCertificate, true);
        assert.equal(a.outgoing.allowInvalidCertificate, true);
        assert.equal(a.outgoing.auth.useAccountCredentials, true);
        assert.equal(a.outgoing.auth.mechanism, null);
        assert.equal(b.incoming.apop, false);
        assert.equal(b.incoming.allowInvalidCertificate, false);
        assert.equal(b.outgoing.allowInvalidCertificate, false);
        assert.equal(b.outgoing.auth.useAccountCredentials, false);

        await ctx.repos.accounts.insert(ctx.db.kysely, 'en', accountValues(on, 'en@example.com', { enabled: 1 }), NOW);
        await ctx.repos.accounts.insert(ctx.db.kysely, 'dis', accountValues(on, 'dis@example.com', { enabled: 0 }), NOW);
        const byId = new Map((await ctx.repos.accounts.list()).map((x) => [x.id, x.enabled]));
        assert.equal(byId.get('en'), true);
        assert.equal(byId.get('dis'), false);
      });

      it('a transaction that throws leaves nothing behind', async (t) => {
        const ctx = await contextFor(t, engine);
        if (!ctx) return;
        const err = await rejection(
          ctx.db.kysely.transaction().execute(async (trx) => {
            await ctx.repos.servers.insert(trx, { id: 'tx-server', nameKey: 'tx', settings: serverSettings('Tx'), now: NOW });
            await ctx.repos.audit.append(trx, { actor: 'a', action: 'mail_server.add', targetType: 'mail_server', targetId: 'tx-server', targetName: 'Tx', fields: [] });
            await ctx.repos.accounts.insert(trx, 'tx-acc', accountValues('tx-server', 'tx@example.com'), NOW);
            throw new Error('boom');
          }),
        );
        assert.equal((err as Error).message, 'boom');
        assert.equal(await ctx.repos.servers.get('tx-server'), undefined);
        assert.equal(await ctx.repos.accounts.getRow('tx-acc'), undefined);
        assert.deepEqual((await ctx.repos.audit.list({ limit: 10 })).items, []);
        // the connection is usable afterwards
        await addServer(ctx, 'After');
        assert.equal((await ctx.repos.servers.list()).length, 3);
      });

      it('a transaction failing on a constraint rolls back its earlier writes', async (t) => {
        const ctx = await contextFor(t, engine);
        if (!ctx) return;
        const err = await rejection(
          ctx.db.kysely.transaction().execute(async (trx) => {
            await ctx.repos.servers.insert(trx, { id: 'first', nameKey: 'first', settings: serverSettings('First'), now: NOW });
            await ctx.repos.audit.append(trx, { actor: 'a', action: 'x', targetType: 't', targetId: null, targetName: null, fields: [] });
            await ctx.repos.servers.insert(trx, { id: 'dup', nameKey: 'gmail', settings: serverSettings('GMAIL'), now: NOW });
          }),
        );
        assert.ok(isUniqueViolation(err), `not recognized as a unique violation: ${String(err)}`);
        assert.equal(await ctx.repos.servers.get('first'), undefined);
        assert.deepEqual((await ctx.repos.audit.list({ limit: 10 })).items, []);
      });

      if (engine === 'sqlite') {
        it('the SQLite file is in WAL mode with foreign keys on', async (t) => {
          const ctx = await contextFor(t, engine);
          if (!ctx) return;
          const mode = await sql<{ journal_mode: string }>`PRAGMA journal_mode`.execute(ctx.db.kysely);
          assert.equal(mode.rows[0]?.journal_mode, 'wal');
          const fk = await sql<{ foreign_keys: number }>`PRAGMA foreign_keys`.execute(ctx.db.kysely);
          assert.equal(fk.rows[0]?.foreign_keys, 1);
          assert.ok(existsSync(join(ctx.config.dataDir, SQLITE_FILE_NAME)));
          assert.ok(existsSync(join(ctx.config.dataDir, `${SQLITE_FILE_NAME}-wal`)));
        });
      }
    });
  });
}
