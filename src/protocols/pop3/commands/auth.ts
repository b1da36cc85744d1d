// Logging in: APOP (RFC 1939 §7), USER/PASS (RFC 1939 §7), and SASL AUTH (RFC 5034)
// with PLAIN (RFC 4616), LOGIN (draft-murchison-sasl-login), CRAM-MD5 (RFC 2195) and
// XOAUTH2 (Google/Microsoft OAuth 2.0 bearer tokens). Secrets only ever travel in
// commands built with a redacted log form (protocol/request.ts).

import { createHash, createHmac } from 'node:crypto';
import { MailError } from '../../mail-error.ts';
import { buildCommand, saslResponse, type Pop3Command } from '../protocol/request.ts';
import type { Pop3Capabilities } from '../protocol/response.ts';
import { expectOk, type Pop3Session } from './session.ts';

export type Pop3AuthMethod = 'auto' | 'apop' | 'user' | 'plain' | 'login' | 'cram-md5' | 'xoauth2';
export type Pop3ResolvedAuthMethod = Exclude<Pop3AuthMethod, 'auto'>;

export interface Pop3AuthOptions {
  /** Default 'auto': USER/PASS when advertised (or no CAPA), else SASL PLAIN, else LOGIN, CRAM-MD5. */
  method?: Pop3AuthMethod;
  user: string;
  pass?: string;
  /** OAuth 2.0 access token for 'xoauth2'. */
  accessToken?: string;
}

/** The method 'auto' resolves to for these capabilities (undefined: server without CAPA). */
export function chooseAuthMethod(auth: Pop3AuthOptions, caps: Pop3Capabilities | undefined): Pop3ResolvedAuthMethod {
  const method = auth.method ?? 'auto';
  if (method !== 'auto') return method;
  if (auth.pass === undefined && auth.accessToken !== undefined) return 'xoauth2';
  if (!caps || caps.user) return 'user';
  if (caps.sasl.includes('PLAIN')) return 'plain';
  if (caps.sasl.includes('LOGIN')) return 'login';
  if (caps.sasl.includes('CRAM-MD5')) return 'cram-md5';
  throw new MailError('AUTH_UNSUPPORTED', 'POP3 server offers neither USER nor a SASL mechanism we support (PLAIN, LOGIN, CRAM-MD5); it may require TLS first', {
    kind: 'config',
    command: 'CAPA',
  });
}

/** APOP digest: lower-case hex MD5 of the greeting's timestamp followed by the password. */
export function apopDigest(timestamp: string, pass: string): string {
  return createHash('md5').update(timestamp + pass, 'utf8').digest('hex');
}

/** CRAM-MD5 response (before base64): "user hex(HMAC-MD5(password, challenge))". */
export function cramMd5Response(user: string, pass: string, challenge: Buffer): string {
  return `${user} ${createHmac('md5', Buffer.from(pass, 'utf8')).update(challenge).digest('hex')}`;
}

export async function authenticate(session: Pop3Session, auth: Pop3AuthOptions, method: Pop3ResolvedAuthMethod, apopTimestamp: string | undefined): Promise<void> {
  switch (method) {
    case 'apop': {
      if (apopTimestamp === undefined) {
        throw new MailError('APOP_UNSUPPORTED', 'POP3 APOP requested but the server greeting has no <timestamp>', { kind: 'config', command: 'APOP' });
      }
      const cmd = buildCommand('APOP', [auth.user, apopDigest(apopTimestamp, needPass(auth))], 1);
      expectOk((await session.conn.send(cmd)).status, cmd);
      return;
    }
    case 'user': {
      const pass = needPass(auth);
      const userCmd = buildCommand('USER', [auth.user]);
      expectOk((await session.conn.send(userCmd)).status, userCmd);
      const passCmd = buildCommand('PASS', [pass], 0);
      expectOk((await session.conn.send(passCmd)).status, passCmd);
      return;
    }
    case 'plain': {
      const pass = needPass(auth);
      return sasl(session, 'PLAIN', (step) => (step === 0 ? b64(`\0${auth.user}\0${pass}`) : undefined));
    }
    case 'login': {
      const pass = needPass(auth);
      return sasl(session, 'LOGIN', (step) => (step === 0 ? b64(auth.user) : step === 1 ? b64(pass) : undefined));
    }
    case 'cram-md5': {
      const pass = needPass(auth);
      return sasl(session, 'CRAM-MD5', (step, challenge) => (step === 0 ? b64(cramMd5Response(auth.user, pass, challenge)) : undefined));
    }
    case 'xoauth2': {
      const token = auth.accessToken;
      if (!token) throw new MailError('AUTH_FAILED', 'POP3 XOAUTH2 needs an access token', { kind: 'config', command: 'AUTH XOAUTH2' });
      return sasl(session, 'XOAUTH2', (step, challenge) => {
        if (step === 0) return b64(`user=${auth.user}\x01auth=Bearer ${token}\x01\x01`);
        // The server explains a refused token in a JSON challenge; an empty line then
        // gets the final -ERR (Google's and Microsoft's XOAUTH2 documentation).
        session.logger.warn({ event: 'pop3.auth.xoauth2.refused', detail: challenge.toString('utf8').slice(0, 500) }, 'XOAUTH2 token refused');
        return step === 1 ? '' : undefined;
      });
    }
  }
}

/**
 * One SASL exchange (RFC 5034 §4), without an initial response so that RFC 1734 servers
 * work too. `respond` gets the decoded challenge and returns the base64 answer, or
 * undefined to cancel with "*".
 */
async function sasl(session: Pop3Session, mechanism: string, respond: (step: number, challenge: Buffer) => string | undefined): Promise<void> {
  const first = buildCommand('AUTH', [mechanism]);
  let reply = await session.conn.send(first, { continuation: true });
  for (let step = 0; reply.status.kind === 'continue'; step++) {
    if (step > 8) {
      throw new MailError('PROTOCOL_ERROR', `POP3 AUTH ${mechanism}: too many challenges`, { kind: 'transient', command: first.logAs });
    }
    const answer = respond(step, Buffer.from(reply.status.text, 'base64'));
    reply = await session.conn.send(saslResponse(answer ?? '*'), { continuation: true });
  }
  expectOk(reply.status, first satisfies Pop3Command);
}

function needPass(auth: Pop3AuthOptions): string {
  if (auth.pass === undefined) throw new MailError('AUTH_FAILED', 'POP3 login needs a password', { kind: 'config' });
  return auth.pass;
}

function b64(s: string): string {
  return Buffer.from(s, 'utf8').toString('base64');
}
