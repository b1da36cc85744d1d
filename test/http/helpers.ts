// Shared pieces of the HTTP API tests: an app on a fresh database with an API
// token, a small `call()` around `inject()`, valid inputs to start from, and a
// snapshot of everything a failed request must leave untouched.
import assert from 'node:assert/strict';
import type { TestContext } from 'node:test';
import type { FastifyInstance } from 'fastify';
import fc from 'fast-check';
import { buildApp } from '../../src/http/app.ts';
import { AuthService } from '../../src/services/auth.ts';
import type { AppContext } from '../../src/services/context.ts';
import { contextFor, type Engine } from '../support/app-context.ts';

// Response bodies are checked field by field; typing each one would only repeat the schemas.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Json = any;

export interface Harness {
  app: FastifyInstance;
  ctx: AppContext;
  /** the API token's name: audit entries say `token:<tokenName>` */
  tokenName: string;
  token: string;
  /** `authorization: Bearer <token>` */
  auth: Record<string, string>;
}

/** An app on a fresh database with one API token; undefined when the engine is not installed (skipped). */
export async function harness(t: TestContext, engine: Engine = 'sqlite', tokenName = 'tests'): Promise<Harness | undefined> {
  const ctx = await contextFor(t, engine);
  if (!ctx) return undefined;
  const app = await buildApp(ctx);
  t.after(() => app.close());
  const token = await new AuthService(ctx).createToken(tokenName);
  return { app, ctx, tokenName, token, auth: { authorization: `Bearer ${token}` } };
}

export interface CallOptions {
  method?: 'GET' | 'HEAD' | 'POST' | 'PUT' | 'PATCH' | 'DELETE' | 'OPTIONS';
  url: string;
  /** sent as JSON */
  body?: unknown;
  /** sent as is, with content-type application/json unless headers say otherwise */
  raw?: string | Buffer;
  headers?: Record<string, string>;
  lang?: 'ja' | 'en';
}

export interface CallResult {
  status: number;
  json: Json;
  raw: string;
  headers: Record<string, string | string[] | number | undefined>;
}

export async function call(app: FastifyInstance, opts: CallOptions): Promise<CallResult> {
  const headers: Record<string, string> = { ...(opts.lang ? { 'accept-language': opts.lang } : {}), ...opts.headers };
  let payload: string | Buffer | undefined;
  if (opts.raw !== undefined) {
    payload = opts.raw;
    headers['content-type'] ??= 'application/json';
  } else if (opts.body !== undefined) {
    payload = JSON.stringify(opts.body);
    headers['content-type'] ??= 'application/json';
  }
  const res = await app.inject({ method: opts.method ?? 'GET', url: opts.url, headers, ...(payload !== undefined ? { payload } : {}) });
  let json: Json;
  try {
    json = res.body ? JSON.parse(res.body) : undefined;
  } catch {
    json = undefined;
  }
  return { status: res.statusCode, json, raw: res.body, headers: res.headers };
}

/** The same call with the harness's API token. */
export function api(h: Harness, opts: CallOptions): Promise<CallResult> {
  return call(h.app, { ...opts, headers: { ...h.auth, ...opts.headers } });
}

export const JAPANESE = /[\u3040-\u30ff\u4e00-\u9fff]/;

/** `{ error: { code, message, fields? } }` with the given code; returns the error. */
export function assertError(res: CallResult, status: number, code?: string): Json {
  assert.equal(res.status, status, `expected ${status}, got ${res.status}: ${res.raw.slice(0, 500)}`);
  assert.equal(typeof res.json?.error, 'object', `no error object: ${res.raw.slice(0, 500)}`);
  assert.equal(typeof res.json.error.code, 'string');
  assert.equal(typeof res.json.error.message, 'string');
  assert.ok(res.json.error.message.length > 0);
  if (code) assert.equal(res.json.error.code, code, res.raw.slice(0, 500));
  if (res.json.error.fields !== undefined) {
    assert.ok(Array.isArray(res.json.error.fields));
    for (const f of res.json.error.fields) {
      assert.equal(typeof f.path, 'string');
      assert.equal(typeof f.message, 'string');
    }
  }
  return res.json.error;
}

/**
 * The property tests' loop: `runs` requests made from random inputs. An answer other than
 * `ok` must be a 4xx refusal with the error shape that leaves `state()` as it was; `check`
 * looks at each accepted one. Returns how many were accepted.
 */
export async function randomRequests<T>(
  runs: number,
  inputs: fc.Arbitrary<T>,
  o: { send: (input: T) => Promise<CallResult>; ok: number; state: () => Promise<unknown>; check: (res: CallResult, input: T) => Promise<void> },
): Promise<number> {
  let accepted = 0;
  await fc.assert(
    fc.asyncProperty(inputs, async (input) => {
      const before = await o.state();
      const res = await o.send(input);
      if (res.status === o.ok) {
        accepted++;
        await o.check(res, input);
        return;
      }
      assert.ok(res.status >= 400 && res.status < 500, `${res.status} for ${JSON.stringify(input)}: ${res.raw.slice(0, 500)}`);
      assertError(res, res.status);
      assert.deepEqual(await o.state(), before, `refused, and something changed: ${JSON.stringify(input)}`);
    }),
    { numRuns: runs },
  );
  return accepted;
}

/** The field paths named by a validation error. */
export function fieldPaths(res: CallResult): string[] {
  return ((res.json?.error?.fields ?? []) as { path: string }[]).map((f) => f.path);
}

export function serverInput(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    name: 'Example ISP',
    incoming: { protocol: 'pop3', host: 'pop.example.com', port: 995, encryption: 'tls' },
    outgoing: { host: 'smtp.example.com', port: 587, encryption: 'starttls' },
    ...overrides,
  };
}

export function accountInput(serverId: string, overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    displayName: 'Support',
    serverId,
    address: 'support@example.com',
    username: 'support',
    password: 'pw-Secret-4711',
    ...overrides,
  };
}

export async function addServer(h: Harness, overrides: Record<string, unknown> = {}): Promise<Json> {
  const res = await api(h, { method: 'POST', url: '/api/v1/mail-servers', body: serverInput(overrides) });
  assert.equal(res.status, 201, res.raw);
  return res.json;
}

export async function addAccount(h: Harness, serverId: string, overrides: Record<string, unknown> = {}): Promise<Json> {
  const res = await api(h, { method: 'POST', url: '/api/v1/mail-accounts', body: accountInput(serverId, overrides) });
  assert.equal(res.status, 201, res.raw);
  return res.json;
}

export async function listServers(h: Harness): Promise<Json[]> {
  const res = await api(h, { url: '/api/v1/mail-servers' });
  assert.equal(res.status, 200, res.raw);
  return res.json.items;
}

export async function auditEntries(h: Harness): Promise<Json[]> {
  const res = await api(h, { url: '/api/v1/audit-log?limit=500' });
  assert.equal(res.status, 200, res.raw);
  return res.json.items;
}

export interface Snapshot {
  servers: Json;
  accounts: Json;
  audit: Json;
  rows: Json;
}

/** Everything a refused request must not change: the API's lists and the raw rows behind them. */
export async function snapshot(h: Harness): Promise<Snapshot> {
  const servers = await api(h, { url: '/api/v1/mail-servers' });
  const accounts = await api(h, { url: '/api/v1/mail-accounts' });
  const audit = await api(h, { url: '/api/v1/audit-log?limit=500' });
  const k = h.ctx.db.kysely;
  return {
    servers: servers.json,
    accounts: accounts.json,
    audit: audit.json,
    rows: {
      servers: await k.selectFrom('mail_servers').selectAll().orderBy('id').execute(),
      accounts: await k.selectFrom('mail_accounts').selectAll().orderBy('id').execute(),
      audit: await k.selectFrom('audit_log').selectAll().orderBy('id').execute(),
    },
  };
}

/** Parse a Set-Cookie header into `name=value` for the next request, and its attributes. */
export function sessionCookie(res: CallResult, name = 'yubin_session'): { cookie: string; attributes: string[] } | undefined {
  const raw = res.headers['set-cookie'];
  const list = Array.isArray(raw) ? raw : raw === undefined ? [] : [String(raw)];
  for (const line of list) {
    const [pair = '', ...attributes] = line.split(';').map((s) => s.trim());
    if (pair.startsWith(`${name}=`)) return { cookie: pair, attributes };
  }
  return undefined;
}

export interface Route {
  method: string;
  path: string;
}

/**
 * Every route the app has, read from `printRoutes({ commonPrefix: false })`:
 * buildApp registers its routes before it returns, so an onRoute hook would see
 * none. The tree has one node per line, four columns per level, e.g.
 *   ├── /api/v1/mail-servers (GET, HEAD, POST)
 *   │   ├── /order (PUT)
 */
export function registeredRoutes(app: FastifyInstance): Route[] {
  const out: Route[] = [];
  const stack: string[] = [];
  for (const line of app.printRoutes({ commonPrefix: false }).split('\n')) {
    const at = line.search(/[├└]── /);
    if (at < 0) continue;
    assert.equal(at % 4, 0, `unexpected printRoutes line: ${line}`);
    const depth = at / 4;
    const m = /^(.*?)(?: \(([A-Z, ]+)\))?$/.exec(line.slice(at + 4));
    assert.ok(m, line);
    stack.length = depth;
    stack.push(m[1]!);
    const path = stack.join('');
    for (const method of m[2]?.split(',').map((s) => s.trim()) ?? []) out.push({ method, path });
  }
  return out;
}
