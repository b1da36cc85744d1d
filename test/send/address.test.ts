// Recipient addresses: what may go into RCPT TO, and what must be refused rather than
// silently rewritten by the URL host parser.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { normalizeRecipient } from '../../src/send/address.ts';
import { normalizeAddress } from '../../web/src/pages/bulk-csv.ts';

test('addresses: valid ones normalized, URL-ish domains refused (server and browser agree)', () => {
  const cases: [string, string | undefined][] = [
    ['Taro@Example.COM', 'Taro@example.com'],
    ['taro..yamada@docomo.ne.jp', 'taro..yamada@docomo.ne.jp'],
    ['taro.@ezweb.ne.jp', 'taro.@ezweb.ne.jp'],
    ['user@日本語.jp', 'user@xn--wgv71a119e.jp'],
    ['taro@example.com/x', undefined],
    ['taro@example.com?x', undefined],
    ['taro@example.com#x', undefined],
    ['taro@example.com\\x', undefined],
    ['a@ex%41mple.com', undefined],
    ['a@example.com:25', undefined],
    ['a@[192.0.2.1]', undefined],
    ['a b@example.com', undefined],
    ['@example.com', undefined],
    ['a@localhost', undefined],
  ];
  for (const [input, expected] of cases) {
    assert.equal(normalizeRecipient(input), expected, `server: ${input}`);
    assert.equal(normalizeAddress(input), expected, `browser: ${input}`);
  }
});
