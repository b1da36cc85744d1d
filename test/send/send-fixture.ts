// Shared setup of the sending tests: a mail server pointing at a test SMTP server on
// 127.0.0.1 and an account on it, through the same services as the API.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { pino } from 'pino';
import type { AppConfig } from '../../src/config/env.ts';
import { openContext, type AppContext } from '../../src/services/context.ts';
import { MailAccountService } from '../../src/services/mail-accounts.ts';
import { MailServerService } from '../../src/services/mail-servers.ts';
import type { Engine } from '../support/app-context.ts';
import { testDatabaseUrl } from '../support/postgres.ts';

export interface SendFixtureOptions {
  port: number;
  encryption?: 'none' | 'starttls' | 'tls';
  mechanism?: 'PLAIN' | 'LOGIN' | 'CRAM-MD5' | null;
  useAccountCredentials?: boolean;
  perMinuteLimit?: number | null;
  maxMessageBytes?: number | null;
  address?: string;
  fromName?: string;
  username?: string;
  password?: string;
  smtpUsername?: string | null;
  smtpPassword?: string | null;
  name?: string;
}

export interface SendFixture {
  serverId: string;
  accountId: string;
  address: string;
}

let seq = 0;

export async function addSendingAccount(ctx: AppContext, o: SendFixtureOptions): Promise<SendFixture> {
  const n = ++seq;
  const server = await new MailServerService(ctx).add('test', {
    name: o.name ?? `Test SMTP ${n} ${o.port}`,
    incoming: { protocol: 'pop3', host: '127.0.0.1', port: 110, encryption: 'none' },
    outgoing: {
      host: '127.0.0.1',
      port: o.port,
      encryption: o.encryption ?? 'none',
      auth: { mechanism: o.mechanism ?? null, useAccountCredentials: o.useAccountCredentials ?? true },
      maxMessageBytes: o.maxMessageBytes ?? null,
      perMinuteLimit: o.perMinuteLimit ?? null,
    },
  });
  const address = o.address ?? `sender${n}@example.com`;
  const account = await new MailAccountService(ctx).add('test', {
    displayName: `Sender ${n}`,
    serverId: server.id,
    address,
    fromName: o.fromName ?? '送信 太郎',
    username: o.username ?? 'user',
    password: o.password ?? 'secret',
    smtpUsername: o.smtpUsername ?? null,
    smtpPassword: o.smtpPassword ?? null,
  });
  return { serverId: server.id, accountId: account.id, address };
}

/** Clean-ups run last-in first-out (stop the worker before closing the SMTP server it talks to). */
export function cleanups(t: TestContext): (fn: () => unknown) => void {
  const fns: (() => unknown)[] = [];
  t.after(async () => {
    for (const fn of fns.reverse()) await fn();
  });
  return (fn) => void fns.push(fn);
}

/** Poll until `check` returns a value (not undefined), or fail after `timeoutMs`. */
export async function waitFor<T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/**
 * Two contexts on one database, like two worker processes: two SQLite connections on one
 * data folder, or two PostgreSQL pools. Undefined (skipped) when the engine is missing.
 */
export async function twoContexts(t: TestContext, engine: Engine): Promise<[AppContext, AppContext] | undefined> {
  let databaseUrl: string | undefined;
  if (engine === 'postgres') {
    databaseUrl = await testDatabaseUrl();
    if (!databaseUrl) {
      t.skip('postgres is not installed here');
      return undefined;
    }
  }
  const dataDir = mkdtempSync(join(tmpdir(), 'yubin-send-'));
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

/** The most starts within any [t, t + window) over the sorted times. */
export function busiestWindow(times: number[], windowMs: number): number {
  const sorted = [...times].sort((a, b) => a - b);
  let most = 0;
  let j = 0;
  for (let i = 0; i < sorted.length; i++) {
    while (sorted[i]! - sorted[j]! >= windowMs) j++;
    most = Math.max(most, i - j + 1);
  }
  return most;
}
