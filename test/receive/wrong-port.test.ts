// Settings that name another protocol's port — an IMAP account on Dovecot's POP3 port, POP3 on
// the IMAP port, SMTP on a POP3 port — fail at the server's first line with WRONG_PROTOCOL,
// saying which protocol answered, in the receive run, in a send and in the connection test.
// Before, the IMAP4 receive run waited out imapflow's 30 s greeting timeout and then blamed
// TLS, POP3 said the server "greeted with an error", and a send failed as a protocol error.
// Real Dovecot and smtp-sink from the mailbed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { receiveAccount } from '../../src/receive/receive-run.ts';
import { receiveStatus } from '../../src/receive/receive-service.ts';
import { testAccountConnection } from '../../src/receive/connection-test.ts';
import { DeliveryService } from '../../src/send/delivery-service.ts';
import { sendDeliveryNow } from '../../src/send/send-worker.ts';
import { MailServerService } from '../../src/services/mail-servers.ts';
import { contextFor } from '../support/app-context.ts';
import { makeMail, receiveFixture } from '../support/receive-fixture.ts';
import { addSendingAccount } from '../send/send-fixture.ts';

const cases = [
  { protocol: 'imap4', on: 'pop3', answered: 'POP3' },
  { protocol: 'imap4', on: 'smtpSink', answered: 'SMTP' },
  { protocol: 'pop3', on: 'imap', answered: 'IMAP4' },
] as const;

for (const c of cases) {
  test(`receive: ${c.protocol} on the ${c.on} port fails with WRONG_PROTOCOL naming ${c.answered}; the mail stays on the server`, async (t) => {
    const ctx = await contextFor(t, 'sqlite');
    if (!ctx) return;
    const f = await receiveFixture(t, ctx, { protocol: c.protocol });
    if (!f) return;
    await f.bed.deliver(f.user, makeMail(1));
    await new MailServerService(ctx).change('test', f.serverId, { incoming: { port: f.bed.ports[c.on] } });

    await assert.rejects(receiveAccount(ctx, ctx.repos.messages, f.accountId, { ca: f.bed.ca }), { code: 'WRONG_PROTOCOL' });
    // what the account's page shows
    const expected = c.protocol === 'imap4' ? 'IMAP4' : 'POP3';
    const ja = (await receiveStatus(ctx, f.accountId, new Date(), 'ja')).lastError;
    const en = (await receiveStatus(ctx, f.accountId, new Date(), 'en')).lastError;
    assert.equal(ja?.code, 'WRONG_PROTOCOL');
    assert.match(ja!.detail, new RegExp(`speaks ${c.answered}, not ${expected}`));
    assert.match(ja!.message, /別のプロトコルのサーバーが応答しました/);
    assert.match(en!.message, /another protocol answered on this port/);
    assert.equal(await ctx.repos.messages.count(f.accountId), 0);
    assert.equal(await f.bed.count(f.user), 1, 'the mail is still on the server');
  });
}

test('connection test: IMAP4 on the POP3 port fails its greeting stage with WRONG_PROTOCOL and the port hint', async (t) => {
  const ctx = await contextFor(t, 'sqlite');
  if (!ctx) return;
  const f = await receiveFixture(t, ctx, { protocol: 'imap4' });
  if (!f) return;
  const server = await new MailServerService(ctx).change('test', f.serverId, { incoming: { port: f.bed.ports.pop3 }, outgoing: { port: f.bed.ports.imap } });
  const r = await testAccountConnection(server, { username: f.user, password: f.password, smtpUsername: null, smtpPassword: null }, { ca: f.bed.ca, lang: 'en' });
  for (const [side, stages, answered] of [['incoming', r.incoming, 'POP3'], ['outgoing', r.outgoing, 'IMAP4']] as const) {
    const greeting = stages.find((s) => s.stage === 'greeting');
    assert.equal(greeting?.ok, false, side);
    assert.equal(greeting?.code, 'WRONG_PROTOCOL', side);
    assert.match(greeting!.message, /another protocol/, side);
    assert.match(greeting!.message, /port number and the encryption setting/, side);
    assert.match(JSON.stringify(greeting), new RegExp(`speaks ${answered}`), side);
  }
});

test('send: an SMTP setting on the POP3 port fails the mail with WRONG_PROTOCOL, in Japanese', async (t) => {
  const ctx = await contextFor(t, 'sqlite');
  if (!ctx) return;
  const f = await receiveFixture(t, ctx, { protocol: 'pop3' });
  if (!f) return;
  const sender = await addSendingAccount(ctx, { port: f.bed.ports.pop3 });
  const service = new DeliveryService(ctx);
  const { id } = await service.create('test', { accountId: sender.accountId, to: ['someone@example.org'], subject: 's', text: 'x' });
  await sendDeliveryNow(ctx, id, { timeoutMs: 60_000 });
  const [r] = (await service.get(id, 'ja')).recipients;
  assert.equal(r!.status, 'failed');
  assert.equal(r!.error?.code, 'WRONG_PROTOCOL');
  assert.match(r!.error!.message, /別のプロトコルのサーバーが応答しました/);
  assert.match(r!.error!.detail, /speaks POP3, not SMTP/);
});
