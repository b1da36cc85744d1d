// One decision per recipient attempt: 2xx sent, 4xx and network errors retried on the
// schedule (1, 5, 15, 60, 240 minutes, then every 4 hours until 24 hours), 5xx failed at
// once, a refused login failed and flagged — with the code and reply kept.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MailError } from '../../src/protocols/mail-error.ts';
import { smtpReplyError } from '../../src/protocols/smtp/smtp-reply.ts';
import { decideDelivery, nextRetryAt } from '../../src/send/outcome.ts';

const queuedAt = '2024-01-15T00:00:00.000Z';
const at = (minutes: number) => new Date(Date.parse(queuedAt) + minutes * 60_000);

test('an accepted recipient is sent, with the reply', () => {
  const d = decideDelivery({ address: 'a@example.com', outcome: 'sent', code: 250, reply: '250 2.0.0 Ok: queued as 4TJ2' }, { attempts: 1, queuedAt, now: at(0) });
  assert.deepEqual(d, { status: 'sent', authFailure: false, code: 250, reply: '250 2.0.0 Ok: queued as 4TJ2' });
});

test('4xx and network errors are deferred on the schedule, then failed after 24 hours', () => {
  // each failed attempt happens right when it was due
  let now = at(0);
  const delays: number[] = [];
  let attempts = 0;
  for (;;) {
    attempts++;
    const d = decideDelivery(smtpReplyError('451 4.3.0 Try again later', 'DATA'), { attempts, queuedAt, now });
    if (d.status === 'failed') {
      assert.equal(d.errorCode, 'GAVE_UP');
      assert.equal(d.code, 451);
      assert.equal(d.reply, '451 4.3.0 Try again later');
      break;
    }
    assert.equal(d.status, 'deferred');
    assert.equal(d.code, 451);
    const next = new Date(d.nextAttemptAt!);
    delays.push((next.getTime() - now.getTime()) / 60_000);
    now = next;
  }
  assert.deepEqual(delays, [1, 5, 15, 60, 240, 240, 240, 240, 240]);
  assert.ok(now.getTime() - Date.parse(queuedAt) <= 24 * 3_600_000);
  assert.equal(attempts, 10);

  const network = decideDelivery(new MailError('CONNECT_FAILED', 'connect ECONNREFUSED 127.0.0.1:25', { kind: 'transient', command: 'CONNECT' }), { attempts: 1, queuedAt, now: at(0) });
  assert.equal(network.status, 'deferred');
  assert.equal(network.errorCode, 'CONNECT_FAILED');
  assert.equal(network.nextAttemptAt, at(1).toISOString());
  assert.equal(nextRetryAt(3, queuedAt, at(6))?.toISOString(), at(21).toISOString());
  assert.equal(nextRetryAt(9, queuedAt, at(1281)), undefined);
});

test('5xx fails at once; a refused login fails and flags the account; TLS and settings errors fail', () => {
  const rcpt = decideDelivery(
    { address: 'x@example.com', outcome: 'permanent', code: 550, reply: '550 5.1.1 <x@example.com>: Recipient address rejected: User unknown', error: smtpReplyError('550 5.1.1 <x@example.com>: Recipient address rejected: User unknown', 'RCPT TO') } as never,
    { attempts: 1, queuedAt, now: at(0) },
  );
  assert.equal(rcpt.status, 'failed');
  assert.equal(rcpt.authFailure, false);
  assert.equal(rcpt.code, 550);
  assert.match(rcpt.reply!, /User unknown/);
  assert.equal(rcpt.errorCode, 'SERVER_PERMANENT');

  const auth = decideDelivery(smtpReplyError('535 5.7.8 Error: authentication failed: authentication failure', 'AUTH PLAIN'), { attempts: 1, queuedAt, now: at(0) });
  assert.deepEqual([auth.status, auth.authFailure, auth.code, auth.errorCode], ['failed', true, 535, 'AUTH_FAILED']);

  const tls = decideDelivery(new MailError('TLS_FAILED', 'self-signed certificate', { kind: 'tls', command: 'STARTTLS' }), { attempts: 1, queuedAt, now: at(0) });
  assert.deepEqual([tls.status, tls.authFailure, tls.errorCode], ['failed', false, 'TLS_FAILED']);
  const big = decideDelivery(new MailError('MESSAGE_TOO_LARGE', 'the message is 2000 bytes', { kind: 'permanent' }), { attempts: 1, queuedAt, now: at(0) });
  assert.deepEqual([big.status, big.errorCode], ['failed', 'MESSAGE_TOO_LARGE']);
});

test('an error is never a sent mail: a greeting cut inside the multi-line EHLO 250 is deferred', () => {
  // what the SMTP client throws when the connection drops after "250-host Nice to meet yo"
  const cut = new MailError('GREETING_FAILED', 'SMTP GREETING failed: 250-vm Nice to meet yo', { kind: 'transient', command: 'EHLO', response: '250-vm Nice to meet yo', responseCode: 250 });
  const d = decideDelivery(cut, { attempts: 1, queuedAt, now: at(0) });
  assert.equal(d.status, 'deferred');
  assert.equal(d.errorCode, 'GREETING_FAILED');
});
