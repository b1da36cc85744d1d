// The scale-out knobs (README "Running several workers"): seconds with fractions, a
// positive integer for the concurrency, or a ConfigError naming the variable.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError, loadConfig } from '../../src/config/env.ts';

test('worker variables: read as milliseconds, absent by default, bad values name the variable', () => {
  assert.equal(loadConfig({}).worker, undefined);
  assert.deepEqual(
    loadConfig({
      YUBIN_LEASE_TTL_SECONDS: '3',
      YUBIN_WORKER_POLL_SECONDS: '0.2',
      YUBIN_WORKER_CONCURRENCY: '8',
      YUBIN_RECEIVE_RUN_TIMEOUT_SECONDS: '600',
      YUBIN_SEND_RATE_WINDOW_SECONDS: '1.5',
    }).worker,
    { leaseTtlMs: 3000, pollIntervalMs: 200, concurrency: 8, runTimeoutMs: 600_000, rateWindowMs: 1500 },
  );
  for (const name of ['YUBIN_LEASE_TTL_SECONDS', 'YUBIN_WORKER_POLL_SECONDS', 'YUBIN_RECEIVE_RUN_TIMEOUT_SECONDS', 'YUBIN_SEND_RATE_WINDOW_SECONDS']) {
    for (const bad of ['0', '-1', '1e3', 'soon', '0.0001']) {
      assert.throws(() => loadConfig({ [name]: bad }), (e: unknown) => e instanceof ConfigError && e.variable === name && e.message.startsWith(name), `${name}=${bad}`);
    }
  }
  assert.throws(() => loadConfig({ YUBIN_WORKER_CONCURRENCY: '2.5' }), (e: unknown) => e instanceof ConfigError && e.variable === 'YUBIN_WORKER_CONCURRENCY');
});
