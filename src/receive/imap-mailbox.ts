// The receive run's IMAP4 side, through imapflow: INBOX only (the seed: Yubin is
// not an IMAP mail client), identity = UIDVALIDITY + UID, bodies with
// BODY.PEEK[] so \Seen is untouched, deletion with \Deleted + UID EXPUNGE
// (UIDPLUS) so that other clients' \Deleted mail is not expunged by us.
import { PassThrough, Readable } from 'node:stream';
import { ImapFlow } from 'imapflow';
import type { MailServer } from '../domain/mail-server.ts';
import { asciiHost } from '../protocols/ascii-host.ts';
import { wrongProtocolError } from '../protocols/greeting.ts';
import { fromSocketError, MailError } from '../protocols/mail-error.ts';
import type { MailboxCredentials, MailboxSession, OpenMailboxOptions, RemoteMessage } from './mailbox.ts';

/** Bodies up to this size are fetched in one FETCH for many messages; larger ones are streamed in parts. */
export const IMAP_BATCH_BODY_BYTES = 1024 * 1024;
/** UIDs per FETCH command. */
export const IMAP_FETCH_BATCH = 200;
/** … and at most this many bytes of them: a FETCH's mails are held until it completes. */
export const IMAP_FETCH_BATCH_BYTES = 16 * 1024 * 1024;
export const IMAP_CONNECTION_TIMEOUT = 30_000;
export const IMAP_GREETING_TIMEOUT = 30_000;
export const IMAP_SOCKET_TIMEOUT = 120_000;

const IMAPFLOW_CLOSED = new Set(['NoConnection', 'EConnectionClosed', 'ClosedAfterConnectText', 'ClosedAfterConnectTLS', 'StateLogout']);
const IMAPFLOW_TIMEOUT = new Set(['CONNECT_TIMEOUT', 'GREETING_TIMEOUT', 'UPGRADE_TIMEOUT', 'ETIMEOUT']);

export function classifyImapError(err: unknown, command?: string): MailError {
  if (err instanceof MailError) return err;
  const e = err as { authenticationFailed?: boolean; code?: string; responseText?: string; serverResponseCode?: string; message?: string; tlsFailed?: boolean };
  const text = e?.responseText ?? e?.message ?? String(err);
  if (e?.authenticationFailed || e?.serverResponseCode === 'AUTHENTICATIONFAILED') {
    return new MailError('AUTH_FAILED', text, { kind: 'auth', command, response: e?.responseText, cause: err });
  }
  if (e?.tlsFailed || e?.code === 'STARTTLS_INJECTION') return new MailError('TLS_FAILED', text, { kind: 'tls', command, cause: err });
  if (e?.code === 'STARTTLS_REQUIRED' || /STARTTLS/i.test(e?.code ?? '')) {
    return new MailError('STARTTLS_UNSUPPORTED', text, { kind: 'tls', command, cause: err });
  }
  if (e?.serverResponseCode === 'UNAVAILABLE' || e?.serverResponseCode === 'INUSE') {
    return new MailError('SERVER_TEMPORARY', text, { kind: 'transient', command, response: e?.responseText, cause: err });
  }
  // imapflow's own codes for a connection that went away or took too long
  if (e?.code && IMAPFLOW_CLOSED.has(e.code)) return new MailError('CONNECTION_CLOSED', text, { kind: 'transient', command, cause: err });
  if (e?.code && IMAPFLOW_TIMEOUT.has(e.code)) return new MailError('TIMEOUT', text, { kind: 'transient', command, cause: err });
  if (e?.code && /^E[A-Z]+$/.test(e.code)) return fromSocketError(err, command);
  if (/timeout/i.test(text)) return new MailError('TIMEOUT', text, { kind: 'transient', command, cause: err });
  const fromSocket = fromSocketError(err, command);
  if (fromSocket.code === 'TLS_FAILED') return fromSocket;
  return new MailError('COMMAND_FAILED', text, { kind: 'transient', command, response: e?.responseText, cause: err });
}

/**
 * A logger for imapflow that looks at the server's first line only. imapflow skips a first
 * line that is not an IMAP greeting and waits out its greeting timeout (30 s), then suggests
 * TLS; a POP3 or SMTP server on the port is known from that line at once (greeting.ts). Its
 * entries carry the server's lines as `{ src: 's', msg }`; once the first has been seen no
 * level is enabled, so imapflow builds no more entries.
 */
export function watchImapGreeting(onForeign: (error: MailError) => void) {
  let seen = false;
  const look = (entry: unknown): void => {
    const e = entry as { src?: unknown; msg?: unknown } | undefined;
    if (seen || e?.src !== 's' || typeof e.msg !== 'string') return;
    seen = true;
    if (!e.msg.startsWith('* ')) onForeign(wrongProtocolError('IMAP4', e.msg));
  };
  return {
    isLevelEnabled: (level: string) => !seen && (level === 'debug' || level === 'error'),
    debug: look,
    // an unparsable line (an SMTP or SSH greeting) is logged as an error; fatal is here so
    // that imapflow does not fall back to the console
    error: look,
    fatal: () => undefined,
    info: () => undefined,
    warn: () => undefined,
  };
}

type ImapFlowOptions = NonNullable<ConstructorParameters<typeof ImapFlow>[0]>;

/**
 * imapflow's options for an incoming server and an account's credentials: one place, so that
 * the connection test (接続テスト) connects exactly as receiving does (encryption, STARTTLS,
 * XOAUTH2 or password, certificate checks, no IDLE, no COMPRESS); the caller gives its
 * timeouts and logger.
 */
export function imapFlowOptions(
  incoming: MailServer['incoming'],
  creds: MailboxCredentials,
  opts: { ca?: Buffer | string | undefined; logger: ImapFlowOptions['logger']; connectionTimeout: number; greetingTimeout: number; socketTimeout: number },
): ImapFlowOptions {
  return {
    // the TLS name: an IDN as certificates carry it
    host: asciiHost(incoming.host),
    port: incoming.port,
    secure: incoming.encryption === 'tls',
    doSTARTTLS: incoming.encryption === 'starttls' ? true : incoming.encryption === 'none' ? false : undefined,
    auth: creds.accessToken ? { user: creds.username, accessToken: creds.accessToken } : { user: creds.username, pass: creds.password ?? '' },
    tls: {
      rejectUnauthorized: !incoming.allowInvalidCertificate,
      ...(opts.ca ? { ca: opts.ca } : {}),
    },
    logger: opts.logger,
    disableAutoIdle: true,
    disableCompression: true,
    connectionTimeout: opts.connectionTimeout,
    greetingTimeout: opts.greetingTimeout,
    socketTimeout: opts.socketTimeout,
  } as ImapFlowOptions;
}

export async function openImapMailbox(incoming: MailServer['incoming'], creds: MailboxCredentials, opts: OpenMailboxOptions): Promise<MailboxSession> {
  let foreign: MailError | undefined;
  const client = new ImapFlow(
    imapFlowOptions(incoming, creds, {
      ca: opts.ca,
      logger: watchImapGreeting((error) => {
        foreign = error;
        setImmediate(() => client.close());
      }),
      connectionTimeout: IMAP_CONNECTION_TIMEOUT,
      greetingTimeout: IMAP_GREETING_TIMEOUT,
      socketTimeout: IMAP_SOCKET_TIMEOUT,
    }),
  );
  // imapflow emits 'error' for socket failures after connect: without a listener Node would crash
  let lastError: unknown;
  client.on('error', (err: unknown) => {
    lastError = err;
    opts.logger?.warn({ err }, 'imap.connection.error');
  });
  try {
    await client.connect();
  } catch (err) {
    client.close();
    throw foreign ?? classifyImapError(lastError ?? err, 'LOGIN');
  }
  let uidValidity: string;
  try {
    const box = await client.mailboxOpen('INBOX');
    uidValidity = String(box.uidValidity);
  } catch (err) {
    client.close();
    throw classifyImapError(err, 'SELECT INBOX');
  }
  const uidplus = client.capabilities.has('UIDPLUS');
  if (!uidplus) opts.logger?.warn({ host: incoming.host }, 'imap.no_uidplus: deleting with EXPUNGE, and only while no other mail of INBOX is marked \\Deleted');

  const run = async <T>(command: string, fn: () => Promise<T>): Promise<T> => {
    try {
      return await fn();
    } catch (err) {
      throw classifyImapError(lastError ?? err, command);
    }
  };

  return {
    protocol: 'imap4',
    list: () =>
      run('UID FETCH 1:* (UID RFC822.SIZE)', async () => {
        const out: RemoteMessage[] = [];
        for await (const m of client.fetch('1:*', { uid: true, size: true })) {
          out.push({ uid: `${uidValidity}:${m.uid}`, size: m.size ?? 0, ref: m.uid });
        }
        return out;
      }),
    headers: (msg) =>
      run('UID FETCH BODY.PEEK[HEADER]', async () => {
        const m = await client.fetchOne(String(msg.ref), { headers: true }, { uid: true });
        return m && m.headers ? m.headers : Buffer.alloc(0);
      }),
    fetchMany: (msgs, onMessage) =>
      run('UID FETCH BODY.PEEK[]', async () => {
        let i = 0;
        while (i < msgs.length) {
          const m = msgs[i]!;
          if (m.size > IMAP_BATCH_BODY_BYTES) {
            // stream a large mail in parts rather than hold it whole twice
            const dl = await client.download(String(m.ref), undefined, { uid: true });
            if (!('content' in dl) || !dl.content) throw new MailError('COMMAND_FAILED', `message UID ${m.ref} vanished`, { kind: 'transient' });
            await onMessage(m, dl.content as Readable);
            i++;
            continue;
          }
          const batch: RemoteMessage[] = [];
          let batchBytes = 0;
          while (i < msgs.length && msgs[i]!.size <= IMAP_BATCH_BODY_BYTES && batch.length < IMAP_FETCH_BATCH && batchBytes + msgs[i]!.size <= IMAP_FETCH_BATCH_BYTES) {
            batchBytes += msgs[i]!.size;
            batch.push(msgs[i++]!);
          }
          const byUid = new Map(batch.map((b) => [b.ref, b]));
          const seen = new Set<number>();
          // BODY.PEEK[] via `source`; order follows the server, each handed over as it arrives
          const bodies: { msg: RemoteMessage; source: Buffer }[] = [];
          for await (const f of client.fetch(batch.map((b) => b.ref).join(','), { uid: true, source: true }, { uid: true })) {
            const msg = byUid.get(f.uid);
            if (msg && f.source && !seen.has(f.uid)) {
              seen.add(f.uid);
              bodies.push({ msg, source: f.source });
            }
          }
          // hand them over in our order once the FETCH is complete (imapflow cannot take
          // new commands while a fetch iterator is open)
          for (const b of batch) {
            const found = bodies.find((x) => x.msg === b);
            if (!found) continue; // expunged by another client meanwhile: nothing to store
            const s = new PassThrough();
            s.end(found.source);
            await onMessage(found.msg, s);
          }
        }
      }),
    delete: (msgs) =>
      run('UID STORE +FLAGS (\\Deleted) / UID EXPUNGE', async () => {
        if (!msgs.length) return;
        const uids = msgs.map((m) => m.ref);
        if (!uidplus) {
          // a plain EXPUNGE removes every \Deleted mail of INBOX: not while another client's
          // \Deleted mail that Yubin has not stored (oversize, over the cap, new) is there
          const ours = new Set(uids);
          const flagged = await client.search({ deleted: true }, { uid: true });
          if (!flagged) throw new MailError('COMMAND_FAILED', 'IMAP server without UIDPLUS: UID SEARCH DELETED failed, so EXPUNGE is not safe; nothing was deleted', { kind: 'transient', command: 'UID SEARCH' });
          const foreign = flagged.filter((u) => !ours.has(u));
          if (foreign.length) {
            throw new MailError('COMMAND_FAILED', `IMAP server without UIDPLUS: ${foreign.length} other mail(s) of INBOX are marked \\Deleted, and EXPUNGE would remove them too; nothing was deleted`, { kind: 'transient', command: 'EXPUNGE' });
          }
        }
        // imapflow answers false (no exception) when the server refuses STORE or EXPUNGE
        if (!(await client.messageDelete(uids.join(','), { uid: true }))) {
          if (!client.usable) throw new MailError('CONNECTION_CLOSED', 'IMAP connection closed while deleting', { kind: 'transient', command: 'UID EXPUNGE', cause: lastError });
          throw new MailError('COMMAND_FAILED', `the IMAP server did not delete UID ${uids.length > 5 ? `${uids.slice(0, 5).join(',')}…` : uids.join(',')}`, { kind: 'transient', command: 'UID EXPUNGE' });
        }
      }),
    commit: () => run('LOGOUT', () => client.logout()),
    abort: () => client.close(),
  };
}
