import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseMailDate } from '../../src/mail/mail-date.ts';

describe('parseMailDate', () => {
  it('reads RFC 5322 dates into UTC ISO strings', () => {
    assert.equal(parseMailDate('Mon, 15 Jan 2024 09:30:00 +0900'), '2024-01-15T00:30:00.000Z');
    assert.equal(parseMailDate('15 Jan 2024 09:30 -0130'), '2024-01-15T11:00:00.000Z');
    assert.equal(parseMailDate('Thu, 29 Feb 2024 23:59:59 +0000'), '2024-02-29T23:59:59.000Z');
  });

  it('reads obsolete forms: comments, two-digit years, named zones, extra spaces', () => {
    assert.equal(parseMailDate('Mon, 15 Jan 2024 09:30:00 +0900 (JST)'), '2024-01-15T00:30:00.000Z');
    assert.equal(parseMailDate('Mon,  5 Jan 98 12:00:00 EST'), '1998-01-05T17:00:00.000Z');
    assert.equal(parseMailDate('Mon, 15 Jan 24 09:30:00 JST'), '2024-01-15T00:30:00.000Z');
    assert.equal(parseMailDate('Mon, 15 Jan 2024 09:30:00 GMT'), '2024-01-15T09:30:00.000Z');
    assert.equal(parseMailDate('Mon, 15 Jan 2024 09:30:00 Z'), '2024-01-15T09:30:00.000Z');
    assert.equal(parseMailDate('Mon, 15 January 2024 09:30:00 +09:00'), '2024-01-15T00:30:00.000Z');
    assert.equal(parseMailDate('Mon, 15 Jan 2024 09:30:60 +0000'), '2024-01-15T09:30:59.000Z'); // leap second
    assert.equal(parseMailDate('Mon, 15 Jan 2024 09:30:00 GMT+0900'), '2024-01-15T00:30:00.000Z');
    assert.equal(parseMailDate('Mon, 15 Jan 2024 09:30:00 JST+0900'), '2024-01-15T00:30:00.000Z');
  });

  it('reads ISO 8601 dates that some software writes', () => {
    assert.equal(parseMailDate('2024-01-15T09:30:00+09:00'), '2024-01-15T00:30:00.000Z');
    assert.equal(parseMailDate('2024-01-15T09:30:00Z'), '2024-01-15T09:30:00.000Z');
    assert.equal(parseMailDate('2024-01-15 09:30:00 '), '2024-01-15T09:30:00.000Z'); // no zone: UTC
    assert.equal(parseMailDate('2024-01-15T09:30:00+0900'), '2024-01-15T00:30:00.000Z');
    assert.equal(parseMailDate('2024-01-15'), '2024-01-15T00:00:00.000Z');
  });

  it('reads asctime dates (no zone: UTC)', () => {
    assert.equal(parseMailDate('Mon Jan 15 09:30:00 2024'), '2024-01-15T09:30:00.000Z');
  });

  it('gives null for what is not a date, rather than a guess', () => {
    for (const bad of ['', 'not a date at all', '1', 'Mon, 31 Feb 2024 10:00:00 +0000', 'Mon, 15 Foo 2024 10:00:00 +0000', '15 Jan 2024 25:00:00 +0000', '15 Jan 2024 10:00:00 +0960']) {
      assert.equal(parseMailDate(bad), null, bad);
    }
  });
});
