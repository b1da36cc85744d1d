// What a refused call says: the AppError's code and its message in both languages.
import assert from 'node:assert/strict';
import { AppError } from '../../src/domain/errors.ts';

export function refusal(fn: () => unknown): { code: string; ja: string; en: string } {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof AppError, String(err));
    return { code: err.code, ja: err.localized('ja').message, en: err.localized('en').message };
  }
  assert.fail('not refused');
}
