// Environment bootstrap (INTERFACE.md "Environment"): the few settings that must be
// known before the database is open. Everything else lives in the database.
// A bad value stops the process at start with a message naming the variable.
import { isIP } from 'node:net';
import { resolve } from 'node:path';
import { localizeParams } from '../domain/errors.ts';
import { t, type Lang, type MessageKey } from '../i18n/index.ts';

export interface AppConfig {
  dataDir: string;
  /** postgres://… or undefined for SQLite in the data folder */
  databaseUrl: string | undefined;
  /** 32 bytes from YUBIN_SECRET_KEY, or undefined to use the key file */
  secretKey: Buffer | undefined;
  host: string;
  port: number;
  /** YUBIN_LOG_LEVEL, checked and trimmed; undefined = each command's default (info, warn for the CLI) */
  logLevel?: string | undefined;
  /** caps of one receive run (the next run continues); undefined = the built-in defaults */
  receiveMaxMessages?: number | undefined;
  receiveMaxBytes?: number | undefined;
  /** Yubin's address as browsers reach it (OAuth 2.0 redirect URI); undefined = from each request */
  publicUrl?: string | undefined;
  /**
   * where recipients reach Yubin's unsubscribe page (YUBIN_UNSUBSCRIBE_URL), without a
   * trailing slash; bulk mail then carries List-Unsubscribe links under it. undefined = none.
   */
  unsubscribeUrl?: string | undefined;
  /**
   * the reverse proxies whose X-Forwarded-For / -Proto / -Host Yubin believes
   * (YUBIN_TRUST_PROXY): addresses, CIDR ranges or loopback / linklocal / uniquelocal.
   * undefined = none (the connection's own address, scheme and host count).
   */
  trustProxy?: string[] | undefined;
  /** how often the stall monitor looks, in seconds (YUBIN_STALL_CHECK_SECONDS); undefined = 60 */
  stallCheckSeconds?: number | undefined;
  /** bearer token that /metrics requires (YUBIN_METRICS_TOKEN); undefined = loopback clients only */
  metricsToken?: string | undefined;
  /** scale-out knobs (README "Running several workers"); undefined = the built-in defaults */
  worker?: WorkerConfig;
}

export interface WorkerConfig {
  /** how long a dead worker's accounts and deliveries stay locked (YUBIN_LEASE_TTL_SECONDS) */
  leaseTtlMs?: number | undefined;
  /** how often a worker looks for due accounts (YUBIN_WORKER_POLL_SECONDS) */
  pollIntervalMs?: number | undefined;
  /** receive runs in flight per process (YUBIN_WORKER_CONCURRENCY) */
  concurrency?: number | undefined;
  /** longest receive run of one account (YUBIN_RECEIVE_RUN_TIMEOUT_SECONDS) */
  runTimeoutMs?: number | undefined;
  /** the per-minute limit's window (YUBIN_SEND_RATE_WINDOW_SECONDS; tests shorten it) */
  rateWindowMs?: number | undefined;
}

/** A bad environment variable (or data folder): names the variable; `message` in English, `localized()` for the CLI. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  constructor(
    readonly variable: string,
    readonly key: MessageKey,
    readonly params: Record<string, unknown> = {},
  ) {
    super(`${variable}: ${t('en', key, params)}`);
  }

  localized(lang: Lang): string {
    return `${this.variable}: ${t(lang, this.key, localizeParams(lang, this.params))}`;
  }
}

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

export function loadConfig(env: NodeJS.ProcessEnv = process.env): AppConfig {
  const dataDir = resolve(nonEmpty(env, 'YUBIN_DATA_DIR') ?? './data');
  const logLevel = nonEmpty(env, 'YUBIN_LOG_LEVEL');
  if (logLevel !== undefined && !LOG_LEVELS.includes(logLevel)) throw new ConfigError('YUBIN_LOG_LEVEL', 'config.logLevel', { levels: LOG_LEVELS.join(', '), value: logLevel });

  const lang = nonEmpty(env, 'YUBIN_LANG');
  if (lang !== undefined && lang !== 'ja' && lang !== 'en') throw new ConfigError('YUBIN_LANG', 'config.lang', { value: lang });

  const databaseUrl = nonEmpty(env, 'YUBIN_DATABASE_URL');
  if (databaseUrl !== undefined) {
    let url: URL;
    try {
      url = new URL(databaseUrl);
    } catch {
      throw new ConfigError('YUBIN_DATABASE_URL', 'config.databaseUrl');
    }
    if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:') {
      throw new ConfigError('YUBIN_DATABASE_URL', 'config.databaseScheme', { scheme: `${url.protocol}//` });
    }
  }

  let secretKey: Buffer | undefined;
  const rawKey = nonEmpty(env, 'YUBIN_SECRET_KEY');
  if (rawKey !== undefined) {
    secretKey = Buffer.from(rawKey, 'base64');
    if (!/^[A-Za-z0-9+/]+={0,2}$/.test(rawKey) || secretKey.length !== 32) {
      throw new ConfigError('YUBIN_SECRET_KEY', 'config.secretKey');
    }
  }

  const host = nonEmpty(env, 'HOST') ?? '127.0.0.1';
  if (/\s/.test(host)) throw new ConfigError('HOST', 'config.host');

  const rawPort = nonEmpty(env, 'PORT') ?? '8080';
  const port = Number(rawPort);
  if (!/^\d+$/.test(rawPort) || port < 1 || port > 65535) {
    throw new ConfigError('PORT', 'config.port', { value: rawPort });
  }

  const receiveMaxMessages = positiveInt(env, 'YUBIN_RECEIVE_MAX_MESSAGES');
  const receiveMaxBytes = positiveInt(env, 'YUBIN_RECEIVE_MAX_BYTES');

  // behind a reverse proxy the request's own host and scheme are not what the browser (and
  // the OAuth provider's registered redirect URI) sees
  const publicUrl = baseUrl(env, 'YUBIN_PUBLIC_URL', 'config.publicUrl');
  // the unsubscribe links in bulk mail: a page that recipients' mail providers must reach,
  // so its own setting (an intranet YUBIN_PUBLIC_URL would make every link a dead one)
  const unsubscribeUrl = baseUrl(env, 'YUBIN_UNSUBSCRIBE_URL', 'config.unsubscribeUrl');
  const trustProxy = proxyList(env);

  const stallCheckSeconds = positiveInt(env, 'YUBIN_STALL_CHECK_SECONDS');
  const metricsToken = nonEmpty(env, 'YUBIN_METRICS_TOKEN');
  if (metricsToken !== undefined && (metricsToken.length < 16 || /\s/.test(metricsToken))) {
    throw new ConfigError('YUBIN_METRICS_TOKEN', 'config.metricsToken');
  }

  const worker: WorkerConfig = {
    leaseTtlMs: seconds(env, 'YUBIN_LEASE_TTL_SECONDS'),
    pollIntervalMs: seconds(env, 'YUBIN_WORKER_POLL_SECONDS'),
    concurrency: positiveInt(env, 'YUBIN_WORKER_CONCURRENCY'),
    runTimeoutMs: seconds(env, 'YUBIN_RECEIVE_RUN_TIMEOUT_SECONDS'),
    rateWindowMs: seconds(env, 'YUBIN_SEND_RATE_WINDOW_SECONDS'),
  };
  const anyWorker = Object.values(worker).some((v) => v !== undefined);

  return {
    dataDir,
    databaseUrl,
    secretKey,
    host,
    port,
    ...(logLevel !== undefined ? { logLevel } : {}),
    receiveMaxMessages,
    receiveMaxBytes,
    publicUrl,
    unsubscribeUrl,
    ...(trustProxy ? { trustProxy } : {}),
    stallCheckSeconds,
    metricsToken,
    ...(anyWorker ? { worker } : {}),
  };
}

const PROXY_RANGES = ['loopback', 'linklocal', 'uniquelocal'];

/** YUBIN_TRUST_PROXY: proxy-addr's named ranges, addresses and CIDR ranges, comma-separated; never "everyone". */
function proxyList(env: NodeJS.ProcessEnv): string[] | undefined {
  const raw = nonEmpty(env, 'YUBIN_TRUST_PROXY');
  if (raw === undefined) return undefined;
  const list = raw.split(',').map((x) => x.trim());
  const ok = list.every((x) => {
    if (PROXY_RANGES.includes(x)) return true;
    const [ip, prefix, more] = x.split('/');
    const family = isIP(ip ?? '');
    if (family === 0 || more !== undefined) return false;
    return prefix === undefined || (/^\d{1,3}$/.test(prefix) && Number(prefix) <= (family === 4 ? 32 : 128));
  });
  if (!ok) throw new ConfigError('YUBIN_TRUST_PROXY', 'config.trustProxy', { value: raw });
  return list;
}

/** An http(s) URL without query or fragment, its trailing slashes cut (ASCII: the URL parser encodes the rest). */
function baseUrl(env: NodeJS.ProcessEnv, name: string, key: MessageKey): string | undefined {
  const raw = nonEmpty(env, name);
  if (raw === undefined) return undefined;
  let u: URL | undefined;
  try {
    u = new URL(raw);
  } catch {
    u = undefined;
  }
  if (!u || (u.protocol !== 'https:' && u.protocol !== 'http:') || u.search || u.hash || raw.includes('?') || raw.includes('#')) {
    throw new ConfigError(name, key, { value: raw });
  }
  return u.href.replace(/\/+$/, '');
}

/** A duration in seconds, fractions allowed ("0.5"), as milliseconds. */
function seconds(env: NodeJS.ProcessEnv, name: string): number | undefined {
  const raw = nonEmpty(env, name);
  if (raw === undefined) return undefined;
  const ms = Math.round(Number(raw) * 1000);
  if (!/^\d+(\.\d+)?$/.test(raw) || ms < 1 || !Number.isSafeInteger(ms)) throw new ConfigError(name, 'config.seconds', { value: raw });
  return ms;
}

function positiveInt(env: NodeJS.ProcessEnv, name: string): number | undefined {
  const raw = nonEmpty(env, name);
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (!/^\d+$/.test(raw) || n < 1 || !Number.isSafeInteger(n)) throw new ConfigError(name, 'config.positiveInt', { value: raw });
  return n;
}

function nonEmpty(env: NodeJS.ProcessEnv, name: string): string | undefined {
  const v = env[name];
  return v === undefined || v.trim() === '' ? undefined : v.trim();
}
