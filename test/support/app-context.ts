// A fresh AppContext for one test: SQLite in a temporary data folder, or a fresh
// database on the suite's PostgreSQL (test/support/postgres.ts).
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { pino } from 'pino';
import type { AppConfig } from '../../src/config/env.ts';
import { openContext, type AppContext } from '../../src/services/context.ts';
import { testDatabaseUrl } from './postgres.ts';

export type Engine = 'sqlite' | 'postgres';
export const ENGINES: Engine[] = ['sqlite', 'postgres'];

/** undefined when PostgreSQL is not installed here (and CI is not set): skip then. */
export async function makeContext(engine: Engine, overrides: Partial<AppConfig> = {}): Promise<AppContext | undefined> {
  const dataDir = mkdtempSync(join(tmpdir(), 'yubin-test-'));
  let databaseUrl: string | undefined;
  if (engine === 'postgres') {
    databaseUrl = await testDatabaseUrl();
    if (!databaseUrl) return undefined;
  }
  const config: AppConfig = { dataDir, databaseUrl, secretKey: randomBytes(32), host: '127.0.0.1', port: 0, ...overrides };
  const ctx = await openContext(config, { log: pino({ level: 'silent' }) });
  const close = ctx.close;
  ctx.close = async () => {
    await close();
    rmSync(dataDir, { recursive: true, force: true });
  };
  return ctx;
}

/** makeContext, or t.skip() when the engine is missing; closes it after the test. */
export async function contextFor(t: TestContext, engine: Engine): Promise<AppContext | undefined> {
  const ctx = await makeContext(engine);
  if (!ctx) {
    t.skip(`${engine} is not installed here`);
    return undefined;
  }
  t.after(() => ctx.close());
  return ctx;
}
