// A mail server + account on the shared mailbed, for receive tests.
import { randomBytes } from 'node:crypto';
import type { TestContext } from 'node:test';
import type { AppContext } from '../../src/services/context.ts';
import { MailAccountService } from '../../src/services/mail-accounts.ts';
import { MailServerService } from '../../src/services/mail-servers.ts';
import { testMailbed, type Mailbed } from './mailbed.ts';

export interface ReceiveFixture {
  bed: Mailbed;
  user: string;
  password: string;
  serverId: string;
  accountId: string;
}

export async function receiveFixture(
  t: TestContext,
  ctx: AppContext,
  opts: {
    protocol: 'pop3' | 'imap4';
    encryption?: 'none' | 'starttls' | 'tls';
    apop?: boolean;
    maxMessageBytes?: number | null;
    leaveOnServer?: { mode: 'delete' } | { mode: 'days'; days: number } | { mode: 'forever' };
  },
): Promise<ReceiveFixture | undefined> {
  const bed = await testMailbed();
  if (!bed) {
    t.skip('Dovecot is not installed here');
    return undefined;
  }
  const user = `u${randomBytes(5).toString('hex')}`;
  const password = `pw-${randomBytes(6).toString('hex')}`;
  await bed.addUser(user, password);
  const encryption = opts.encryption ?? 'none';
  const port =
    opts.protocol === 'pop3' ? (encryption === 'tls' ? bed.ports.pop3s : bed.ports.pop3) : encryption === 'tls' ? bed.ports.imaps : bed.ports.imap;
  const server = await new MailServerService(ctx).add('test', {
    name: `bed-${user}`,
    incoming: { protocol: opts.protocol, host: '127.0.0.1', port, encryption, apop: opts.apop ?? false, maxMessageBytes: opts.maxMessageBytes ?? null },
    outgoing: { host: '127.0.0.1', port: bed.ports.smtpSink, auth: { mechanism: null } },
  });
  const account = await new MailAccountService(ctx).add('test', {
    displayName: user,
    serverId: server.id,
    address: `${user}@example.com`,
    username: user,
    password,
    leaveOnServer: opts.leaveOnServer ?? { mode: 'delete' },
  });
  return { bed, user, password, serverId: server.id, accountId: account.id };
}

/** A small RFC 5322 mail with a unique body. */
export function makeMail(i: number, extra = ''): string {
  return (
    `From: Sender ${i} <sender${i}@example.org>\r\nTo: rcpt@example.com\r\nSubject: test ${i}\r\n` +
    `Message-ID: <m${i}.${randomBytes(4).toString('hex')}@example.org>\r\nDate: Fri, 27 Nov 2026 10:00:00 +0900\r\n\r\nbody ${i}\r\n.leading dot\r\n${extra}`
  );
}
