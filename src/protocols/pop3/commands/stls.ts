// STLS (RFC 2595 §4): ask for TLS on the plain port, then run the handshake. When the
// server does not offer it we stop: sending the password in clear instead is not an
// option the user chose.

import { MailError } from '../../mail-error.ts';
import { buildCommand } from '../protocol/request.ts';
import { expectOk, type Pop3Session } from './session.ts';

export async function stls(session: Pop3Session): Promise<void> {
  if (session.capabilities && !session.capabilities.stls) {
    throw new MailError('STARTTLS_UNSUPPORTED', 'POP3 server does not offer STLS (not in CAPA)', { kind: 'tls', command: 'STLS' });
  }
  const cmd = buildCommand('STLS');
  const reply = await session.conn.send(cmd, { upgrade: true });
  expectOk(reply.status, cmd);
  await session.conn.upgradeToTls();
}
