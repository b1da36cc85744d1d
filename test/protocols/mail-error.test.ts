import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fromSocketError, MailError } from '../../src/protocols/mail-error.ts';

test('socket errors map to transient or tls MailErrors', () => {
  const refused = fromSocketError(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' }));
  assert.equal(refused.code, 'CONNECT_FAILED');
  assert.equal(refused.retryable, true);
  const cert = fromSocketError(Object.assign(new Error('self-signed certificate'), { code: 'DEPTH_ZERO_SELF_SIGNED_CERT' }));
  assert.equal(cert.code, 'TLS_FAILED');
  assert.equal(cert.kind, 'tls');
  const same = new MailError('AUTH_FAILED', 'no', { kind: 'auth' });
  assert.equal(fromSocketError(same), same);
});
