// The receive run's POP3 side, on our own client (src/protocols/pop3). Deletions
// are DELE commands that the server applies only at QUIT (RFC 1939 §6): a crash or
// a dropped connection before QUIT deletes nothing.
import type { MailServer } from '../domain/mail-server.ts';
import { MailError } from '../protocols/mail-error.ts';
import { connectPop3, type Pop3AuthOptions } from '../protocols/pop3/index.ts';
import type { MailboxCredentials, MailboxSession, OpenMailboxOptions, RemoteMessage } from './mailbox.ts';

/** RETRs in flight: enough to keep Dovecot streaming while a batch is committed. */
export const POP3_PIPELINE_WINDOW = 256;

export async function openPop3Mailbox(incoming: MailServer['incoming'], creds: MailboxCredentials, opts: OpenMailboxOptions): Promise<MailboxSession> {
  const auth: Pop3AuthOptions = creds.accessToken
    ? { method: 'xoauth2', user: creds.username, accessToken: creds.accessToken }
    : { method: incoming.apop ? 'apop' : 'auto', user: creds.username, pass: creds.password ?? '' };
  const client = await connectPop3({
    host: incoming.host,
    port: incoming.port,
    encryption: incoming.encryption,
    allowInvalidCertificate: incoming.allowInvalidCertificate,
    apop: incoming.apop,
    auth,
    pipelineWindow: POP3_PIPELINE_WINDOW,
    ...(opts.ca ? { ca: opts.ca } : {}),
    ...(opts.logger ? { logger: opts.logger } : {}),
  });
  return {
    protocol: 'pop3',
    async list(): Promise<RemoteMessage[]> {
      // listMessages() fails with UIDL_UNSUPPORTED when the server has no UIDL: nothing
      // is received and nothing deleted (the seed's 利用条件).
      const msgs = await client.listMessages();
      return msgs.map((m) => ({ uid: m.uid, size: m.size, ref: m.seq }));
    },
    headers: (msg) => client.top(msg.ref, 0),
    fetchMany: (msgs, onMessage, onRefused) => {
      const byRef = new Map(msgs.map((m) => [m.ref, m]));
      return client.retrMany(
        msgs.map((m) => m.ref),
        (seq, stream) => onMessage(byRef.get(seq)!, stream),
        (seq, error) => onRefused(byRef.get(seq)!, error),
      );
    },
    delete: async (msgs) => {
      if (msgs.length) await client.deleMany(msgs.map((m) => m.ref));
    },
    commit: () => client.quit(),
    abort: () => client.close(),
  };
}

export function assertPop3(incoming: MailServer['incoming']): void {
  if (incoming.protocol !== 'pop3') throw new MailError('PROTOCOL_ERROR', 'not a POP3 server', { kind: 'config' });
}
