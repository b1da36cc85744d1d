// Operations endpoints: /healthz (no database), /readyz (503 when the database does not
// answer or a migration is pending), /metrics (who may read it, and what it says, read
// from the database), and the stall notification settings under /api/v1/settings.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { pino } from 'pino';
import { buildApp } from '../../src/http/app.ts';
import { receiveNow } from '../../src/receive/receive-service.ts';
import { DeliveryService } from '../../src/send/delivery-service.ts';
import { openContext } from '../../src/services/context.ts';
import { ENGINES } from '../support/app-context.ts';
import { addSendingAccount } from '../send/send-fixture.ts';
import { runCli } from '../support/cli.ts';
import { api, assertError, call, fieldPaths, harness, JAPANESE } from './helpers.ts';

for (const engine of ENGINES) {
  test(`${engine}: /readyz is 503 while a migration is pending, 200 once it is applied; /healthz needs no database`, async (t) => {
    const h = await harness(t, engine);
    if (!h) return;
    assert.equal((await call(h.app, { url: '/readyz' })).status, 200);
    await h.ctx.db.kysely.deleteFrom('kysely_migration' as never).where('name' as never, '=', '0005-operations' as never).execute();
    const pending = await call(h.app, { url: '/readyz' });
    assert.equal(pending.status, 503, pending.raw);
    assert.deepEqual(pending.json, { status: 'migrations pending', pending: ['0005-operations'] });
    await h.ctx.db.kysely.insertInto('kysely_migration' as never).values({ name: '0005-operations', timestamp: new Date().toISOString() } as never).execute();
    assert.equal((await call(h.app, { url: '/readyz' })).status, 200);
  });
}

test('/readyz is 503 when the database does not answer; /healthz stays 200', async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'yubin-ready-'));
  // a PostgreSQL nobody listens on: opening the context does not connect (no migration)
  const ctx = await openContext(
    { dataDir, databaseUrl: 'postgres://yubin@127.0.0.1:1/yubin', secretKey: randomBytes(32), host: '127.0.0.1', port: 0 },
    { log: pino({ level: 'silent' }), migrate: false },
  );
  const app = await buildApp(ctx);
  t.after(async () => {
    await app.close();
    await ctx.close();
    rmSync(dataDir, { recursive: true, force: true });
  });
  const ready = await call(app, { url: '/readyz' });
  assert.equal(ready.status, 503);
  assert.deepEqual(ready.json, { status: 'database unreachable' });
  const health = await call(app, { url: '/healthz' });
  assert.equal(health.status, 200);
  assert.deepEqual(health.json, { status: 'ok' });
});

test('/metrics: loopback only without YUBIN_METRICS_TOKEN; with it, the bearer token from anywhere', async (t) => {
  const h = await harness(t);
  if (!h) return;
  const local = await h.app.inject({ url: '/metrics', remoteAddress: '127.0.0.1' });
  assert.equal(local.statusCode, 200);
  assert.match(String(local.headers['content-type']), /^text\/plain; version=0\.0\.4/);
  const remote = await h.app.inject({ url: '/metrics', remoteAddress: '192.0.2.7' });
  assert.equal(remote.statusCode, 401);
  assert.equal(JSON.parse(remote.body).error.code, 'UNAUTHENTICATED');
  // an API token is not the metrics token
  assert.equal((await h.app.inject({ url: '/metrics', remoteAddress: '192.0.2.7', headers: h.auth })).statusCode, 401);

  h.ctx.config.metricsToken = 'metrics-token-0123456789';
  assert.equal((await h.app.inject({ url: '/metrics', remoteAddress: '127.0.0.1' })).statusCode, 401, 'with a token set, loopback needs it too');
  assert.equal((await h.app.inject({ url: '/metrics', remoteAddress: '192.0.2.7', headers: { authorization: 'Bearer metrics-token-012345678X' } })).statusCode, 401);
  assert.equal((await h.app.inject({ url: '/metrics', remoteAddress: '192.0.2.7', headers: { authorization: 'Bearer metrics-token-0123456789' } })).statusCode, 200);
});

test('/metrics reports mails sent and failed, the queue, leases and receive runs from the database', async (t) => {
  const h = await harness(t);
  if (!h) return;
  const f = await addSendingAccount(h.ctx, { port: 1, address: 'metrics@example.com', name: 'Metrics "ISP"' });
  const deliveries = new DeliveryService(h.ctx);
  for (const to of ['a@example.net', 'b@example.net', 'c@example.net']) await deliveries.create('test', { accountId: f.accountId, to: [to], subject: 's', text: 't' });
  // as a worker would have left them: one sent, one failed, one still queued
  const rows = await h.ctx.db.kysely.selectFrom('delivery_recipients').select('id').orderBy('address').execute();
  await h.ctx.db.kysely.updateTable('delivery_recipients').set({ status: 'sent' }).where('id', '=', rows[0]!.id).execute();
  await h.ctx.db.kysely.updateTable('delivery_recipients').set({ status: 'failed' }).where('id', '=', rows[1]!.id).execute();
  await h.ctx.repos.leases.acquire('receive:someone', 'worker-1', 60_000);
  // a run against a port nobody listens on: a failed run in the histogram
  const run = await receiveNow(h.ctx, f.accountId);
  assert.equal(run.errors.length, 1);
  // and one by another process on the same database (as a `yubin worker`, which has no HTTP
  // port): it counts too
  const other = await runCli(['receive', '--account', 'metrics@example.com', '--once'], {
    env: { YUBIN_DATA_DIR: h.ctx.config.dataDir, YUBIN_SECRET_KEY: h.ctx.secretKey.toString('base64'), YUBIN_DATABASE_URL: undefined },
  });
  assert.notEqual(other.code, 0, `the other process's run fails too: ${other.stdout}${other.stderr}`);

  const res = await h.app.inject({ url: '/metrics' });
  assert.equal(res.statusCode, 200);
  const text = res.body;
  const labels = 'account="metrics@example.com",server="Metrics \\"ISP\\""';
  assert.ok(text.includes(`yubin_mails_sent_total{${labels}} 1\n`), text);
  assert.ok(text.includes(`yubin_mails_failed_total{${labels}} 1\n`));
  assert.ok(text.includes(`yubin_mails_received_total{${labels}} 0\n`));
  assert.ok(text.includes('yubin_delivery_queue{status="queued"} 1\n'));
  assert.ok(text.includes('yubin_leases{kind="receive"} 1\n'));
  assert.ok(text.includes(`yubin_account_consecutive_failures{${labels}} 2\n`), "both runs failed");
  assert.ok(text.includes(`yubin_account_stalled{${labels}} 0\n`));
  assert.match(text, /^yubin_receive_run_duration_seconds_count\{outcome="failed"\} 2$/m);
  assert.match(text, /^yubin_receive_run_duration_seconds_bucket\{outcome="failed",le="\+Inf"\} 2$/m);
  assert.match(text, /^yubin_receive_run_duration_seconds_sum\{outcome="failed"\} \d/m);
  assert.doesNotMatch(text, /outcome="ok"/, 'no run went through');
  // cumulative buckets: never fewer runs under a larger bound
  const buckets = [...text.matchAll(/^yubin_receive_run_duration_seconds_bucket\{outcome="failed",le="([^"]+)"\} (\d+)$/gm)].map((m) => Number(m[2]));
  assert.equal(buckets.length, 13);
  assert.deepEqual(buckets, [...buckets].sort((a, b) => a - b));
  // every sample line belongs to a declared family
  const declared = new Set([...text.matchAll(/^# TYPE (\w+) /gm)].map((m) => m[1]));
  for (const line of text.split('\n').filter((l) => l && !l.startsWith('#'))) {
    const name = line.split(/[{ ]/)[0]!.replace(/_(bucket|sum|count)$/, '');
    assert.ok(declared.has(name) || declared.has(line.split(/[{ ]/)[0]!), line);
  }
});

test('stall notification settings: field-named errors in Japanese and English, nothing stored; then saved and audited', async (t) => {
  const h = await harness(t);
  if (!h) return;
  const f = await addSendingAccount(h.ctx, { port: 1 });
  const initial = await api(h, { url: '/api/v1/settings/notifications' });
  assert.deepEqual(initial.json, { accountId: null, recipients: [] });

  const bad = await api(h, { method: 'PUT', url: '/api/v1/settings/notifications', body: { accountId: 'no-such-account', recipients: ['ops@example.net', 'not an address'] } });
  const err = assertError(bad, 400, 'VALIDATION');
  assert.deepEqual(fieldPaths(bad).sort(), ['accountId', 'recipients.1']);
  assert.match(err.message, JAPANESE);
  assert.match(err.fields.find((x: { path: string }) => x.path === 'recipients.1').message, /通知先メールアドレス.*not an address/);
  const en = await api(h, { method: 'PUT', url: '/api/v1/settings/notifications', lang: 'en', body: { accountId: f.accountId, recipients: [] } });
  assertError(en, 400, 'VALIDATION');
  assert.deepEqual(fieldPaths(en), ['recipients']);
  assert.match(en.json.error.fields[0].message, /notification recipient/i);
  const wrongType = await api(h, { method: 'PUT', url: '/api/v1/settings/notifications', lang: 'en', body: { accountId: 5, recipients: 'ops@example.net' } });
  assert.deepEqual(fieldPaths(wrongType).sort(), ['accountId', 'recipients']);
  assert.deepEqual((await api(h, { url: '/api/v1/settings/notifications' })).json, { accountId: null, recipients: [] }, 'nothing stored');

  const ok = await api(h, { method: 'PUT', url: '/api/v1/settings/notifications', body: { accountId: f.accountId, recipients: ['Ops@Example.NET', 'ops@example.net', 'admin@example.org'] } });
  assert.equal(ok.status, 200, ok.raw);
  assert.deepEqual(ok.json, { accountId: f.accountId, recipients: ['Ops@example.net', 'admin@example.org'] });
  assert.deepEqual((await api(h, { url: '/api/v1/settings/notifications' })).json, ok.json);
  const audit = await api(h, { url: '/api/v1/audit-log' });
  assert.equal(audit.json.items[0].action, 'settings.notifications');
  assert.equal(audit.json.items[0].actor, `token:${h.tokenName}`);
  // the sending account cannot be deleted while it sends them (they would stop unseen)
  for (const [lang, words] of [
    ['ja', /通知の送信に使われているため削除できません/],
    ['en', /sends the stall notifications and cannot be deleted/],
  ] as const) {
    const refused = await api(h, { method: 'DELETE', url: `/api/v1/mail-accounts/${f.accountId}`, lang });
    assert.match(assertError(refused, 409, 'ACCOUNT_IN_USE').message, words);
  }
  assert.equal((await api(h, { url: `/api/v1/mail-accounts/${f.accountId}` })).status, 200, 'still there');
  // turning it off needs no recipients
  const off = await api(h, { method: 'PUT', url: '/api/v1/settings/notifications', body: { accountId: null, recipients: [] } });
  assert.equal(off.status, 200, off.raw);
  // the account status carries the stall field
  const status = await api(h, { url: `/api/v1/mail-accounts/${f.accountId}/status` });
  assert.equal(status.json.stalled, null);
});
