// The POP3 multi-line decoder and a bare LF before ".\r\n" inside a message body.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MultilineDecoder, dotStuff } from '../../../src/protocols/pop3/protocol/multiline-decoder.ts';

function decode(wire: Buffer, opts?: ConstructorParameters<typeof MultilineDecoder>[0], step = wire.length) {
  const d = new MultilineDecoder(opts);
  const body: Buffer[] = [];
  let consumed = 0;
  for (let i = 0; i < wire.length && !d.done; i += step) {
    const r = d.feed(wire.subarray(i, i + step));
    body.push(r.data);
    consumed = i + r.consumed;
  }
  return { body: Buffer.concat(body).toString('latin1'), done: d.done, rest: wire.subarray(consumed).toString('latin1') };
}

test('a message body (RETR): "\\n.\\r\\n" after a CRLF line is data, not the terminator, however the chunks fall', () => {
  const wire = Buffer.from('Subject: x\r\n\r\nfirst\n.\r\nthe rest\r\n.\r\n+OK next\r\n', 'latin1');
  for (const step of [1, 2, 3, 7, wire.length]) {
    const r = decode(wire, { bareLfEndsLine: false }, step);
    assert.ok(r.done, `step ${step}`);
    assert.equal(r.body, 'Subject: x\r\n\r\nfirst\n.\r\nthe rest\r\n', `step ${step}`);
    assert.equal(r.rest, '+OK next\r\n', `step ${step}`);
  }
});

test('a message body of bare-LF lines only still ends at "\\n.\\r\\n"; listings keep the lenient reading', () => {
  assert.deepEqual(decode(Buffer.from('a\n..b\nc\n.\r\n+OK'), { bareLfEndsLine: false }), { body: 'a\n.b\nc\n', done: true, rest: '+OK' });
  assert.deepEqual(decode(Buffer.from('1 a\r\n2 b\n.\r\n')), { body: '1 a\r\n2 b\n', done: true, rest: '' });
});

test('dotStuff and the decoder agree on lines (CRLF bodies with bare LF, and LF-only bodies)', () => {
  for (const body of ['x\r\n.a\n.b\r\n.\r\n', 'a\n.\n..\nz\n', '.\r\n\n.\r\n', 'q\n.\r\n.\r\n']) {
    const r = decode(Buffer.concat([dotStuff(Buffer.from(body, 'latin1')), Buffer.from('.\r\n')]), { bareLfEndsLine: false }, 1);
    assert.ok(r.done, JSON.stringify(body));
    assert.equal(r.body, body, JSON.stringify(body));
  }
});
