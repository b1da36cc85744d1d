// Two writers on one database (serve, worker and CLI processes, or two pool clients):
// adding mail servers with the same name at the same moment must store one and answer
// the other with the ordinary duplicate-name field error, never a raw database error;
// different names at the same moment must both be stored.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { pino } from 'pino';
import type { AppConfig } from '../../src/config/env.ts';
import { AppError, ValidationError } from '../../src/domain/errors.ts';
import { openContext, type AppContext } from '../../src/services/context.ts';
import { MailServerService } from '../../src/services/mail-servers.ts';
import { testDatabaseUrl } from '../support/postgres.ts';

/** How many same-name races each engine runs: one race can miss the window by luck. */
const ROUNDS = 5;

function serverBody(name: string) {
  return {
    name,
    incoming: { protocol: 'pop3', host: 'pop.example.com', port: 995, encryption: 'tls' },
    outgoing: { host: 'smtp.example.com', port: 587, encryption: 'starttls' },
  };
}

/** Two contexts sharing one config (data folder, key, database URL); closed after the test. */
async function twoContexts(t: TestContext, databaseUrl: string | undefined): Promise<[AppContext, AppContext]> {
  const dataDir = mkdtempSync(join(tmpdir(), 'yubin-conc-'));
  const config: AppConfig = { dataDir, databaseUrl, secretKey: randomBytes(32), host: '127.0.0.1', port: 0 };
  const log = pino({ level: 'silent' });
  const a = await openContext(config, { log });
  const b = await openContext(config, { log });
  t.after(async () => {
    await a.close();
    await b.close();
    rmSync(dataDir, { recursive: true, force: true });
  });
  return [a, b];
}

async function raceSameName(a: AppContext, b: AppContext): Promise<void> {
  const svcA = new MailServerService(a);
  const svcB = new MailServerService(b);
  for (let round = 0; round < ROUNDS; round++) {
    const name = `Race ${round}`;
    const results = await Promise.allSettled([svcA.add('admin', serverBody(name)), svcB.add('admin', serverBody(name))]);
    const ok = results.filter((r) => r.status === 'fulfilled');
    const failed = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    assert.equal(ok.length, 1, `round ${round}: ${ok.length} adds succeeded; errors: ${failed.map((f) => String(f.reason)).join('; ')}`);
    const err = failed[0]?.reason as unknown;
    assert.ok(err instanceof ValidationError, `round ${round}: expected a ValidationError, got ${String(err)}`);
    assert.equal((err as AppError).code, 'VALIDATION');
    assert.deepEqual(
      (err as AppError).issues.map((i) => [i.path, i.key]),
      [['name', 'validation.duplicateName']],
    );
  }
  // both contexts see the same store: each name once, and one audit entry per stored server
  for (const ctx of [a, b]) {
    const names = (await ctx.repos.servers.list()).filter((s) => !s.preset).map((s) => s.name);
    assert.deepEqual(
      names.sort(),
      Array.from({ length: ROUNDS }, (_, i) => `Race ${i}`),
    );
  }
  const audit = await a.repos.audit.list({ limit: 100 });
  assert.equal(audit.items.filter((e) => e.action === 'mail_server.add').length, ROUNDS);
}

/** Different names at once: both are stored (a fix must not turn every lock conflict into a name error). */
async function raceDifferentNames(a: AppContext, b: AppContext): Promise<void> {
  const svcA = new MailServerService(a);
  const svcB = new MailServerService(b);
  for (let round = 0; round < ROUNDS; round++) {
    const results = await Promise.allSettled([svcA.add('admin', serverBody(`Left ${round}`)), svcB.add('admin', serverBody(`Right ${round}`))]);
    const errors = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected').map((r) => String(r.reason));
    assert.deepEqual(errors, [], `round ${round}`);
  }
  const names = (await b.repos.servers.list()).filter((s) => !s.preset).map((s) => s.name);
  assert.equal(names.length, 2 * ROUNDS);
}

describe('mail servers added at once by two contexts on one database', () => {
  it('sqlite: the same name from two contexts on the same data folder: one stored, one duplicate-name error', async (t) => {
    const [a, b] = await twoContexts(t, undefined);
    assert.equal(a.db.dialect, 'sqlite');
    await raceSameName(a, b);
  });

  it('sqlite: different names from two contexts on the same data folder are both stored', async (t) => {
    const [a, b] = await twoContexts(t, undefined);
    await raceDifferentNames(a, b);
  });

  it('postgres: the same name from two contexts on the same database: one stored, one duplicate-name error', async (t) => {
    const url = await testDatabaseUrl();
    if (!url) {
      t.skip('postgres is not installed here');
      return;
    }
    const [a, b] = await twoContexts(t, url);
    assert.equal(a.db.dialect, 'postgres');
    await raceSameName(a, b);
  });

  it('postgres: different names from two contexts on the same database are both stored', async (t) => {
    const url = await testDatabaseUrl();
    if (!url) {
      t.skip('postgres is not installed here');
      return;
    }
    const [a, b] = await twoContexts(t, url);
    await raceDifferentNames(a, b);
  });
});
