// The DATA payload: dot-stuffing and the terminator, byte for byte (RFC 5321 §4.5.2).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { dotStuff, hasBareLineBreak, messageSize } from '../../../src/protocols/smtp/dot-stuffing.ts';

const payload = (raw: string): string => Buffer.concat(dotStuff(Buffer.from(raw, 'latin1'))).toString('latin1');

/** What a receiver does (RFC 5321 §4.5.2): read lines up to the lone ".", drop one leading dot. */
function unstuff(data: string): string {
  assert.ok(data.endsWith('\r\n.\r\n') || data === '.\r\n', 'ends with CRLF . CRLF');
  const body = data === '.\r\n' ? '' : data.slice(0, -3);
  return body
    .split('\r\n')
    .map((line) => (line.startsWith('.') ? line.slice(1) : line))
    .join('\r\n');
}

test('lines starting with a dot get a second one; the payload ends with CRLF . CRLF', () => {
  assert.equal(payload('a\r\n.b\r\n..c\r\n.\r\nd\r\n'), 'a\r\n..b\r\n...c\r\n..\r\nd\r\n.\r\n');
  assert.equal(payload('.first\r\n'), '..first\r\n.\r\n');
  assert.equal(payload('no final line break'), 'no final line break\r\n.\r\n');
  assert.equal(payload(''), '.\r\n');
  assert.equal(payload('a.b\r\n'), 'a.b\r\n.\r\n');
});

test('bare LF and bare CR are sent as CRLF', () => {
  assert.equal(payload('a\n.b\rc\r\n'), 'a\r\n..b\r\nc\r\n.\r\n');
  assert.equal(hasBareLineBreak(Buffer.from('a\r\nb\r\n')), false);
  assert.equal(hasBareLineBreak(Buffer.from('a\nb')), true);
  assert.equal(hasBareLineBreak(Buffer.from('a\rb')), true);
  assert.equal(hasBareLineBreak(Buffer.from('\n')), true);
});

test('a message with CRLF line ends is received exactly as it was given (property)', () => {
  const line = fc.stringMatching(/^[.a-z \x80-\xff]{0,12}$/);
  fc.assert(
    fc.property(fc.array(line, { maxLength: 20 }), (lines) => {
      const raw = lines.map((l) => l + '\r\n').join('');
      const data = payload(raw);
      assert.equal(unstuff(data), raw);
      // a caller that vouches for the CRLF line ends (crlf) gets the same payload, unchecked
      assert.equal(Buffer.concat(dotStuff(Buffer.from(raw, 'latin1'), true)).toString('latin1'), data);
      // no line of the payload but the last is a lone dot
      assert.equal(data.split('\r\n').indexOf('.'), data.split('\r\n').length - 2);
    }),
  );
});

test('a message given as chunks gives the payload of its bytes in one buffer, wherever the chunks are cut (property)', () => {
  const line = fc.stringMatching(/^[.a-z \x80-\xff]{0,12}$/);
  fc.assert(
    fc.property(fc.array(line, { maxLength: 12 }), fc.array(fc.nat(), { maxLength: 8 }), fc.boolean(), (lines, cuts, finalBreak) => {
      const raw = Buffer.from(lines.join('\r\n') + (finalBreak && lines.length > 0 ? '\r\n' : ''), 'latin1');
      // cut anywhere: between CR and LF, right before a line's dot, empty chunks
      const at = [...new Set(cuts.map((c) => c % (raw.length + 1)))].sort((a, b) => a - b);
      const chunks = [...at, raw.length].map((end, i) => raw.subarray(i === 0 ? 0 : at[i - 1]!, end));
      assert.equal(messageSize(chunks), raw.length);
      const whole = Buffer.concat(dotStuff(raw)).toString('latin1');
      assert.equal(Buffer.concat(dotStuff(chunks, true)).toString('latin1'), whole);
      assert.equal(Buffer.concat(dotStuff(chunks)).toString('latin1'), whole);
    }),
  );
  // the large chunks go out as they are, not copied
  const big = Buffer.from('x'.repeat(2000) + '\r\n');
  assert.ok(dotStuff([Buffer.from('Subject: a\r\n\r\n'), big], true).includes(big));
});
