// What the receive run needs from a mail server, whatever the protocol: the
// template (receive-run.ts) calls these; pop3-mailbox.ts and imap-mailbox.ts
// fill them in (Zammad's channel pattern: set up, iterate, fetch one, wrap up).
import type { Readable } from 'node:stream';
import type { MailServer } from '../domain/mail-server.ts';

export interface RemoteMessage {
  /** stable identity on this server: the POP3 UIDL, or "<UIDVALIDITY>:<UID>" for IMAP4 */
  uid: string;
  /** size the server reports (octets) */
  size: number;
  /** protocol handle: the POP3 message number or the IMAP UID */
  ref: number;
}

export interface MailboxSession {
  readonly protocol: 'pop3' | 'imap4';
  list(): Promise<RemoteMessage[]>;
  /** The header block only (POP3 TOP n 0, IMAP BODY.PEEK[HEADER]) — for oversize notices. */
  headers(msg: RemoteMessage): Promise<Buffer>;
  /**
   * Each message's exact bytes as a stream, in order; onMessage is awaited before the next.
   * A message the server refuses to send (POP3 -ERR to its RETR) goes to onRefused and the
   * others still come; a message gone meanwhile (IMAP) is left out.
   */
  fetchMany(msgs: RemoteMessage[], onMessage: (msg: RemoteMessage, body: Readable) => Promise<void>, onRefused: (msg: RemoteMessage, error: Error) => void): Promise<void>;
  /** Ask the server to delete; takes effect at commit() (POP3 QUIT) or at once (IMAP UID EXPUNGE). */
  delete(msgs: RemoteMessage[]): Promise<void>;
  /** End the session normally: POP3 QUIT (which applies deletions), IMAP LOGOUT. */
  commit(): Promise<void>;
  /** Abandon the session without committing anything (POP3: no QUIT, so no deletion). */
  abort(): void;
}

export interface MailboxCredentials {
  username: string;
  password: string | null;
  accessToken?: string | null;
}

export interface OpenMailboxOptions {
  /** extra trusted CA certificates (tests, private CAs) */
  ca?: Buffer | string | undefined;
  logger?: import('pino').Logger | undefined;
}

export type MailboxOpener = (incoming: MailServer['incoming'], credentials: MailboxCredentials, opts: OpenMailboxOptions) => Promise<MailboxSession>;
