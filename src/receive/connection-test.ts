// The connection test (PRODUCT.md §3): staged diagnostics of a mail server with a mail
// account's credentials, in Japanese or English.
//
//   const result = await testAccountConnection(server, await accounts.credentials(id), { lang: 'ja' });
//   result.ok; result.incoming[i] = { stage, ok, warning, warnings, code, message, details }
//
// Each side (incoming POP3/IMAP4, outgoing SMTP) runs its stages in the order they
// happen on the wire: dns → tcp → tls → greeting → capabilities → auth → mailbox
// (incoming only). With STARTTLS the greeting comes before tls, because that is where the
// server sends it. A side stops at its first failed stage, and later stages are NOT
// listed: the last stage of a failed side is the one that failed. The two sides run at
// the same time and do not affect each other.
//
// Read-only: POP3 never sends DELE (STAT, then QUIT), IMAP opens INBOX with EXAMINE, SMTP
// logs in and QUITs. Secrets never appear in the result: messages and details are built
// without them, and as a last guard every string in the result is scrubbed of them.
// Failures carry a MailError code (../protocols/mail-error.ts); every limit is a named
// constant in connection-test-stages.ts (opts.timeoutMs replaces them all).
import type { MailServer } from '../domain/mail-server.ts';
import type { MailErrorCode } from '../protocols/mail-error.ts';
import type { Lang } from '../i18n/index.ts';
import { testImap, testPop3 } from './connection-test-incoming.ts';
import { testSmtp } from './connection-test-outgoing.ts';
import { stageTimeouts, StageRecorder, StageStop, toMailError, type Stage, type StageName, type TestContext } from './connection-test-stages.ts';

export type { ConnectionTestWarning, Stage, StageName } from './connection-test-stages.ts';
export { DNS_TIMEOUT, LOGIN_TIMEOUT, MAILBOX_TIMEOUT, REPLY_TIMEOUT, TCP_TIMEOUT, TLS_TIMEOUT } from './connection-test-stages.ts';
export { CERT_EXPIRY_WARNING_DAYS } from './connection-test-probe.ts';

export interface ConnectionTestCredentials {
  username: string;
  password: string | null;
  smtpUsername: string | null;
  smtpPassword: string | null;
  /** XOAUTH2 (presets): the access token, used for POP3, IMAP and SMTP alike */
  accessToken?: string | null;
  /** XOAUTH2 without a usable token: the login stages fail with this */
  oauthFailure?: { code: MailErrorCode; message: string };
}

export interface ConnectionTestOptions {
  /** Language of the messages; Japanese unless 'en'. */
  lang?: Lang;
  /** Extra trusted CA certificate(s), PEM (as the protocol clients take it). */
  ca?: Buffer | string;
  /** One limit in milliseconds for every step instead of the named constants. */
  timeoutMs?: number;
  /** Which sides to test; default both. */
  include?: ('incoming' | 'outgoing')[];
}

export interface ConnectionTestResult {
  /** Every stage of every tested side passed (warnings allowed). */
  ok: boolean;
  incoming: Stage[];
  outgoing: Stage[];
}

/** Secrets shorter than this are not scrubbed from text (they would mangle every message). */
export const MIN_SCRUBBED_SECRET_LENGTH = 4;

export async function testAccountConnection(server: MailServer, creds: ConnectionTestCredentials, opts: ConnectionTestOptions = {}): Promise<ConnectionTestResult> {
  const include = opts.include ?? ['incoming', 'outgoing'];
  const ctx: TestContext = { lang: opts.lang ?? 'ja', ca: opts.ca, timeouts: stageTimeouts(opts.timeoutMs) };
  const inc = server.incoming;
  const out = server.outgoing;
  const [incoming, outgoing] = await Promise.all([
    include.includes('incoming')
      ? runSide(ctx, inc, (rec) => (inc.protocol === 'pop3' ? testPop3(rec, inc, creds) : testImap(rec, inc, creds)))
      : Promise.resolve([]),
    include.includes('outgoing') ? runSide(ctx, out, (rec) => testSmtp(rec, out, creds)) : Promise.resolve([]),
  ]);
  const result: ConnectionTestResult = {
    ok: [...incoming, ...outgoing].every((s) => s.ok) && incoming.length + outgoing.length > 0,
    incoming,
    outgoing,
  };
  return scrubSecrets(result, secretsOf(creds));
}

async function runSide(ctx: TestContext, where: { host: string; port: number }, run: (rec: StageRecorder) => Promise<void>): Promise<Stage[]> {
  const rec = new StageRecorder(ctx, { host: where.host, port: where.port });
  try {
    await run(rec);
  } catch (err) {
    if (!(err instanceof StageStop)) {
      // a bug or an error outside any stage: report it on the stage that would have come next
      try {
        rec.failWith(nextStage(rec.stages), toMailError(err));
      } catch {
        // StageStop: recorded
      }
    }
  }
  return rec.stages;
}

const ORDER: StageName[] = ['dns', 'tcp', 'tls', 'greeting', 'capabilities', 'auth', 'mailbox'];

function nextStage(done: Stage[]): StageName {
  const last = done[done.length - 1];
  if (!last) return 'dns';
  return ORDER[Math.min(ORDER.indexOf(last.stage) + 1, ORDER.length - 1)]!;
}

function secretsOf(creds: ConnectionTestCredentials): string[] {
  const out = new Set<string>();
  for (const [user, pass] of [
    [creds.username, creds.password],
    [creds.smtpUsername ?? creds.username, creds.smtpPassword],
  ] as const) {
    if (pass === null || pass.length < MIN_SCRUBBED_SECRET_LENGTH) continue;
    out.add(pass);
    // the forms a password takes on the wire (USER/PASS is plain; AUTH PLAIN / LOGIN are base64)
    out.add(Buffer.from(pass, 'utf8').toString('base64'));
    out.add(Buffer.from(`\0${user}\0${pass}`, 'utf8').toString('base64'));
  }
  if (creds.accessToken) {
    out.add(creds.accessToken);
    out.add(Buffer.from(`user=${creds.username}\x01auth=Bearer ${creds.accessToken}\x01\x01`, 'utf8').toString('base64'));
  }
  // longest first, so that a secret containing another is replaced whole
  return [...out].sort((a, b) => b.length - a.length);
}

/** Every string in `value` with each secret replaced by "********". */
function scrubSecrets<T>(value: T, secrets: string[]): T {
  if (secrets.length === 0) return value;
  const walk = (v: unknown): unknown => {
    if (typeof v === 'string') return secrets.reduce((s, secret) => s.split(secret).join('********'), v);
    if (Array.isArray(v)) return v.map(walk);
    if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, walk(x)]));
    return v;
  };
  return walk(value) as T;
}
