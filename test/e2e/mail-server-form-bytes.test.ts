// The mail server form's size limits (web/src/pages/mail-server-form-size.ts): a limit
// the administrator did not change goes back as the bytes it was loaded with, so
// 10,000,000 set from the API or the CLI does not become 10,003,415 (9.54 MB) when
// the form is saved for another change.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MAX_SIZE_LIMIT } from '../../src/domain/mail-server.ts';
import { MIB, mbText, sizeLimitBytes } from '../../web/src/pages/mail-server-form-size.ts';

test('a stored limit that is not whole MB goes back unchanged', () => {
  assert.equal(mbText(10_000_000), '9.54');
  assert.equal(sizeLimitBytes(true, '9.54', 10_000_000), 10_000_000);
  // the same number typed again is not a change either
  assert.equal(sizeLimitBytes(true, ' 9.540 ', 10_000_000), 10_000_000);
});

test('every stored limit survives the form unchanged', () => {
  const samples = [1, 1000, 999_999, MIB - 1, MIB, MIB + 1, 10_000_000, 25 * MIB, 123_456_789, MAX_SIZE_LIMIT - 1, MAX_SIZE_LIMIT];
  for (let b = 12_345; b < MAX_SIZE_LIMIT; b += 7_654_321) samples.push(b);
  for (const stored of samples) {
    assert.equal(sizeLimitBytes(true, mbText(stored), stored), stored, `stored ${stored} shown as ${mbText(stored)}`);
  }
});

test('a changed limit is converted from MB as before', () => {
  assert.equal(sizeLimitBytes(true, '20', 10_000_000), 20 * MIB);
  assert.equal(sizeLimitBytes(true, '9.55', 10_000_000), Math.round(9.55 * MIB));
  // a limit newly set (none stored, or a new server)
  assert.equal(sizeLimitBytes(true, '9.54', null), Math.round(9.54 * MIB));
  assert.equal(sizeLimitBytes(true, '10', null), 10 * MIB);
});

test('unlimited is null and a value that is not a number goes as typed', () => {
  assert.equal(sizeLimitBytes(false, '9.54', 10_000_000), null);
  assert.equal(sizeLimitBytes(false, '', null), null);
  assert.equal(sizeLimitBytes(true, '10MB', 10_000_000), '10MB');
  assert.equal(sizeLimitBytes(true, '', null), '');
  assert.equal(mbText(null), '');
});
