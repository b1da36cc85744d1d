// The receive caps come from the environment, validated like every other variable.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError, loadConfig } from '../../src/config/env.ts';

test('YUBIN_RECEIVE_MAX_MESSAGES / _BYTES: positive integers or a ConfigError naming them', () => {
  const c = loadConfig({ YUBIN_RECEIVE_MAX_MESSAGES: '50', YUBIN_RECEIVE_MAX_BYTES: '1048576' });
  assert.equal(c.receiveMaxMessages, 50);
  assert.equal(c.receiveMaxBytes, 1048576);
  assert.equal(loadConfig({}).receiveMaxMessages, undefined);
  for (const bad of ['0', '-1', '1.5', 'lots']) {
    assert.throws(() => loadConfig({ YUBIN_RECEIVE_MAX_MESSAGES: bad }), (e: unknown) => e instanceof ConfigError && e.variable === 'YUBIN_RECEIVE_MAX_MESSAGES');
  }
  assert.throws(() => loadConfig({ YUBIN_RECEIVE_MAX_BYTES: 'x' }), (e: unknown) => e instanceof ConfigError && e.variable === 'YUBIN_RECEIVE_MAX_BYTES');
});
