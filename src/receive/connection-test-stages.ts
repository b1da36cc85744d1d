// The connection test's stage bookkeeping and the stages every protocol shares:
// DNS, TCP and TLS (or the "not encrypted" notice). A StageRecorder collects the
// stages of one side (incoming or outgoing) in the order they happen and stops the
// side at the first failure, so the last stage listed is the one that failed.
import type net from 'node:net';
import type tls from 'node:tls';
import type { Lang } from '../i18n/index.ts';
import { fromSocketError, isMailError, MailError, type MailErrorCode } from '../protocols/mail-error.ts';
import { ctMessage, joinSentences, reasonKey, type ConnectionTestMessageKey } from './connection-test-messages.ts';
import { inspectCertificate, ProbeConnection, resolveHost, tcpConnect, tlsHandshake } from './connection-test-probe.ts';

/** DNS lookup of the host name. */
export const DNS_TIMEOUT = 10_000;
/** TCP connect. */
export const TCP_TIMEOUT = 15_000;
/** TLS handshake (implicit, or after STARTTLS). */
export const TLS_TIMEOUT = 15_000;
/** Each reply on a probe connection: greeting, CAPA / CAPABILITY / EHLO, STARTTLS. */
export const REPLY_TIMEOUT = 15_000;
/** Logging in through the protocol client, its own connect included. */
export const LOGIN_TIMEOUT = 30_000;
/** Mailbox statistics (POP3 STAT, IMAP EXAMINE INBOX) and the polite goodbye. */
export const MAILBOX_TIMEOUT = 60_000;

export type StageName = 'dns' | 'tcp' | 'tls' | 'greeting' | 'capabilities' | 'auth' | 'mailbox';

/** Machine-readable reasons for `warning: true`. */
export type ConnectionTestWarning =
  | 'NOT_ENCRYPTED' // encryption 'none'
  | 'CERTIFICATE_NOT_VERIFIED' // a bad certificate accepted because allowInvalidCertificate is set
  | 'CERTIFICATE_EXPIRES_SOON' // fewer than CERT_EXPIRY_WARNING_DAYS days left
  | 'STARTTLS_AVAILABLE' // encryption 'none' but the server offers STARTTLS / STLS
  | 'NO_CAPA' // POP3 without CAPA: UIDL is checked after login instead
  | 'NO_UIDPLUS' // IMAP without UIDPLUS
  | 'SIZE_BELOW_LIMIT' // SMTP SIZE smaller than the configured maxMessageBytes
  | 'AUTH_NOT_TESTED'; // XOAUTH2: no access token in a connection test

export interface Stage {
  stage: StageName;
  ok: boolean;
  /** Passed, but with something the user should know (see `warnings`). */
  warning: boolean;
  warnings: ConnectionTestWarning[];
  /** The MailError code of a failed stage; null when it passed. */
  code: MailErrorCode | null;
  /** One or a few sentences in the requested language. */
  message: string;
  details?: Record<string, unknown>;
}

export interface StageTimeouts {
  dns: number;
  tcp: number;
  tls: number;
  reply: number;
  login: number;
  mailbox: number;
}

/** The named limits, or one limit (opts.timeoutMs) for every step. */
export function stageTimeouts(timeoutMs: number | undefined): StageTimeouts {
  if (timeoutMs !== undefined) return { dns: timeoutMs, tcp: timeoutMs, tls: timeoutMs, reply: timeoutMs, login: timeoutMs, mailbox: timeoutMs };
  return { dns: DNS_TIMEOUT, tcp: TCP_TIMEOUT, tls: TLS_TIMEOUT, reply: REPLY_TIMEOUT, login: LOGIN_TIMEOUT, mailbox: MAILBOX_TIMEOUT };
}

/** Thrown after a failed stage has been recorded: the side stops here. */
export class StageStop extends Error {}

export interface TestContext {
  lang: Lang;
  ca: Buffer | string | undefined;
  timeouts: StageTimeouts;
}

const FAIL_KEY: Record<StageName, ConnectionTestMessageKey> = {
  dns: 'connectionTest.dns.fail',
  tcp: 'connectionTest.tcp.fail',
  tls: 'connectionTest.tls.handshakeFail',
  greeting: 'connectionTest.greeting.fail',
  capabilities: 'connectionTest.capabilities.fail',
  auth: 'connectionTest.auth.fail',
  mailbox: 'connectionTest.mailbox.fail',
};

export class StageRecorder {
  readonly stages: Stage[] = [];
  readonly ctx: TestContext;
  /** host and port of the side, for the messages */
  readonly where: { host: string; port: number };

  constructor(ctx: TestContext, where: { host: string; port: number }) {
    this.ctx = ctx;
    this.where = where;
  }

  get lang(): Lang {
    return this.ctx.lang;
  }

  msg(key: ConnectionTestMessageKey, params: Record<string, unknown> = {}): string {
    return ctMessage(this.ctx.lang, key, { ...this.where, ...params });
  }

  pass(stage: StageName, sentences: string[], details?: Record<string, unknown>, warnings: ConnectionTestWarning[] = []): void {
    this.stages.push({
      stage,
      ok: true,
      warning: warnings.length > 0,
      warnings: [...new Set(warnings)],
      code: null,
      message: joinSentences(this.ctx.lang, sentences),
      ...(details ? { details } : {}),
    });
  }

  /** Record a failure with its own message and stop the side. */
  fail(stage: StageName, code: MailErrorCode, sentences: string[], details?: Record<string, unknown>): never {
    this.stages.push({ stage, ok: false, warning: false, warnings: [], code, message: joinSentences(this.ctx.lang, sentences), ...(details ? { details } : {}) });
    throw new StageStop(`${stage} failed`);
  }

  /** Record a failure from an error (the stage's standard message, the reason, the server reply) and stop. */
  failWith(stage: StageName, err: unknown, details: Record<string, unknown> = {}, hints: string[] = []): never {
    const error = toMailError(err);
    const sentences = [this.msg(FAIL_KEY[stage], { reason: this.reason(error) })];
    if (error.response) sentences.push(this.msg('connectionTest.reply', { reply: oneLine(error.response) }));
    sentences.push(...hints);
    this.fail(stage, error.code, sentences, { ...details, error: errorDetails(error) });
  }

  /** Run one stage; anything thrown that is not a recorded failure fails it with the standard message. */
  async run<T>(stage: StageName, fn: () => Promise<T>, details?: () => Record<string, unknown>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      if (err instanceof StageStop) throw err;
      this.failWith(stage, err, details?.());
    }
  }

  /** A few words on why: a socket errno or certificate code when known, else the MailError code. */
  reason(error: MailError): string {
    const cause = error.cause as { code?: unknown } | undefined;
    const errno = typeof cause?.code === 'string' ? cause.code : undefined;
    const key = (errno && reasonKey(errno)) ?? reasonKey(error.code);
    return key ? this.msg(key) : this.msg('connectionTest.reason.other', { detail: error.message });
  }
}

export function toMailError(err: unknown): MailError {
  if (isMailError(err)) return err;
  return fromSocketError(err);
}

function errorDetails(error: MailError): Record<string, unknown> {
  const cause = error.cause as { code?: unknown } | undefined;
  return {
    code: error.code,
    kind: error.kind,
    command: error.command ?? null,
    response: error.response ?? null,
    responseCode: error.responseCode ?? null,
    errno: typeof cause?.code === 'string' ? cause.code : null,
    detail: error.message,
  };
}

/**
 * greeting: read it with `read`. Silence or a reply of another protocol gets a hint
 * about port and encryption (the usual mistake: a TLS port with encryption 'none').
 */
export async function readGreeting<T>(rec: StageRecorder, read: () => Promise<T>): Promise<T> {
  try {
    return await read();
  } catch (err) {
    if (err instanceof StageStop) throw err;
    const error = toMailError(err);
    const hint = error.code === 'TIMEOUT' || error.code === 'PROTOCOL_ERROR' || error.code === 'WRONG_PROTOCOL' ? [rec.msg('connectionTest.greeting.portHint')] : [];
    return rec.failWith('greeting', error, {}, hint);
  }
}

/** Server text for a message: one line, not too long. */
export function oneLine(text: string, max = 300): string {
  const flat = text.replace(/\s*[\r\n]+\s*/g, ' ').trim();
  return flat.length > max ? flat.slice(0, max) + '…' : flat;
}

/** dns: resolve the host name; an IP literal passes at once. */
export async function dnsStage(rec: StageRecorder): Promise<void> {
  const { host } = rec.where;
  const found = await rec.run('dns', () => resolveHost(host, rec.ctx.timeouts.dns), () => ({ host }));
  const addresses = found.addresses.map((a) => a.address);
  rec.pass('dns', [found.literal ? rec.msg('connectionTest.dns.ip') : rec.msg('connectionTest.dns.ok', { addresses: addresses.join(', ') })], {
    host,
    addresses: found.addresses,
  });
}

/** tcp: connect; the socket is the caller's to close. */
export async function tcpStage(rec: StageRecorder): Promise<net.Socket> {
  const { host, port } = rec.where;
  const { socket, ms } = await rec.run('tcp', () => tcpConnect(host, port, rec.ctx.timeouts.tcp), () => ({ host, port }));
  const address = socket.remoteAddress ?? host;
  rec.pass('tcp', [rec.msg('connectionTest.tcp.ok', { address, ms })], { address, port, ms });
  return socket;
}

/** tls for encryption 'none': passes with a warning that nothing is encrypted. */
export function plainStage(rec: StageRecorder): void {
  rec.pass('tls', [rec.msg('connectionTest.tls.none')], { encrypted: false }, ['NOT_ENCRYPTED']);
}

/**
 * tls: run `handshake` (which may first do the STARTTLS exchange) and judge the
 * certificate. A bad certificate fails with TLS_FAILED unless the server allows it,
 * then it passes with a warning. `onFail` closes what is open.
 */
export async function tlsStage(
  rec: StageRecorder,
  allowInvalidCertificate: boolean,
  handshake: () => Promise<tls.TLSSocket>,
): Promise<tls.TLSSocket> {
  const secured = await rec.run('tls', async () => {
    try {
      return await handshake();
    } catch (err) {
      const error = toMailError(err);
      if (error.code !== 'STARTTLS_UNSUPPORTED') throw error;
      const sentences = [rec.msg('connectionTest.tls.starttlsFail')];
      if (error.response) sentences.push(rec.msg('connectionTest.reply', { reply: oneLine(error.response) }));
      return rec.fail('tls', error.code, sentences, { encrypted: false, error: errorDetails(error) });
    }
  });
  const report = inspectCertificate(secured, rec.where.host);
  const d = report.details;
  const params = {
    protocol: d.protocol ?? 'TLS',
    subject: d.subject || '-',
    issuer: d.issuer || '-',
    validTo: d.validTo ? d.validTo.slice(0, 10) : '-',
    days: d.daysUntilExpiry ?? '-',
  };
  const details = { encrypted: true, ...d };
  const soon = report.expiresSoon ? [rec.msg('connectionTest.tls.expiresSoon', { days: d.daysUntilExpiry })] : [];
  const soonWarning: ConnectionTestWarning[] = report.expiresSoon ? ['CERTIFICATE_EXPIRES_SOON'] : [];
  if (report.valid) {
    rec.pass('tls', [rec.msg('connectionTest.tls.ok', params), ...soon], details, soonWarning);
    return secured;
  }
  const problem = report.problem ?? 'UNABLE_TO_VERIFY_LEAF_SIGNATURE';
  const reasonK = reasonKey(problem);
  const reason = reasonK ? rec.msg(reasonK) : rec.msg('connectionTest.reason.other', { detail: problem });
  if (allowInvalidCertificate) {
    rec.pass('tls', [rec.msg('connectionTest.tls.unverified', { ...params, reason }), ...soon], { ...details, allowInvalidCertificate: true }, [
      'CERTIFICATE_NOT_VERIFIED',
      ...soonWarning,
    ]);
    return secured;
  }
  secured.destroy();
  return rec.fail('tls', 'TLS_FAILED', [rec.msg('connectionTest.tls.certFail', { ...params, reason })], { ...details, problem });
}

/**
 * dns → tcp → (tls) → greeting (→ tls after STARTTLS/STLS, as on the wire), for any
 * protocol: `greeting` reads and judges the server's greeting, `startTls` asks for the
 * upgrade. Returns the probe connection; on failure it is closed.
 */
export async function openProbe(
  rec: StageRecorder,
  server: { encryption: 'none' | 'starttls' | 'tls'; allowInvalidCertificate: boolean },
  greeting: (conn: ProbeConnection) => Promise<void>,
  startTls: (conn: ProbeConnection) => Promise<void>,
): Promise<ProbeConnection> {
  await dnsStage(rec);
  const socket = await tcpStage(rec);
  const { host } = rec.where;
  const t = rec.ctx.timeouts;
  let conn: ProbeConnection | undefined;
  try {
    if (server.encryption === 'tls') {
      const secured = await tlsStage(rec, server.allowInvalidCertificate, () => tlsHandshake(socket, host, { ca: rec.ctx.ca }, t.tls));
      conn = new ProbeConnection(secured, t.reply);
      await greeting(conn);
    } else if (server.encryption === 'none') {
      plainStage(rec);
      conn = new ProbeConnection(socket, t.reply);
      await greeting(conn);
    } else {
      const c = new ProbeConnection(socket, t.reply);
      conn = c;
      await greeting(c);
      await tlsStage(rec, server.allowInvalidCertificate, async () => {
        await startTls(c);
        return c.upgrade(host, { ca: rec.ctx.ca }, t.tls);
      });
    }
    return conn;
  } catch (err) {
    if (conn) conn.close();
    else socket.destroy();
    throw err;
  }
}
