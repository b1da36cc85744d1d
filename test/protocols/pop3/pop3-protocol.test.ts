// Wire-format unit tests: the multi-line decoder, status lines, CAPA/LIST/UIDL bodies,
// the APOP timestamp, command building and redaction, and the auth digests.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { MultilineDecoder, dotStuff } from '../../../src/protocols/pop3/protocol/multiline-decoder.ts';
import {
  extractApopTimestamp,
  parseCapabilities,
  parseListLines,
  parseRespCode,
  parseStat,
  parseStatusLine,
  parseUidlLines,
  splitLines,
} from '../../../src/protocols/pop3/protocol/response.ts';
import { buildCommand, saslResponse } from '../../../src/protocols/pop3/protocol/request.ts';
import { apopDigest, chooseAuthMethod, cramMd5Response } from '../../../src/protocols/pop3/commands/auth.ts';
import { MailError } from '../../../src/protocols/mail-error.ts';

/** Decode `wire` fed as the given chunks; returns body, and what followed the terminator. */
function decodeChunks(chunks: Buffer[]): { body: Buffer; rest: Buffer; done: boolean } {
  const d = new MultilineDecoder();
  const body: Buffer[] = [];
  const rest: Buffer[] = [];
  for (const c of chunks) {
    if (d.done) {
      rest.push(c);
      continue;
    }
    const r = d.feed(c);
    body.push(r.data);
    if (r.done) rest.push(c.subarray(r.consumed));
  }
  return { body: Buffer.concat(body), rest: Buffer.concat(rest), done: d.done };
}

const wireOf = (body: Buffer): Buffer => Buffer.concat([dotStuff(body), Buffer.from('.\r\n')]);

test('decoder: terminator found when the body is split at every byte position, in two and three pieces', () => {
  const body = Buffer.from('Subject: x\r\n\r\n..\r\n.\r\n.foo\r\nend.\r\n.\r\n');
  const wire = Buffer.concat([wireOf(body), Buffer.from('+OK next\r\n')]);
  for (let i = 0; i <= wire.length; i++) {
    const r = decodeChunks([wire.subarray(0, i), wire.subarray(i)]);
    assert.ok(r.done, `split at ${i}`);
    assert.deepEqual(r.body, body, `split at ${i}`);
    assert.equal(r.rest.toString(), '+OK next\r\n', `split at ${i}`);
    for (let j = i; j <= wire.length; j++) {
      const r3 = decodeChunks([wire.subarray(0, i), wire.subarray(i, j), wire.subarray(j)]);
      assert.deepEqual(r3.body, body, `split at ${i},${j}`);
      assert.equal(r3.rest.toString(), '+OK next\r\n', `split at ${i},${j}`);
    }
  }
});

test('decoder: one byte at a time', () => {
  const body = Buffer.from('a\r\n.\r\n..\r\n\r\n.\r\nz\r\n');
  const wire = wireOf(body);
  const r = decodeChunks([...wire].map((b) => Buffer.from([b])));
  assert.ok(r.done);
  assert.deepEqual(r.body, body);
});

test('decoder: a line that is just ".." on the wire is "." in the message; ".foo" keeps its dot', () => {
  const r = decodeChunks([Buffer.from('..\r\n..foo\r\n...\r\nx\r\n.\r\n')]);
  assert.equal(r.body.toString(), '.\r\n.foo\r\n..\r\nx\r\n');
});

test('decoder: an unstuffed leading dot is stripped as RFC 1939 §3 says', () => {
  assert.equal(decodeChunks([Buffer.from('.foo\r\n.\r\n')]).body.toString(), 'foo\r\n');
  assert.equal(decodeChunks([Buffer.from('.\rx\r\n.\r\n')]).body.toString(), '\rx\r\n');
});

test('decoder: empty body, and a body without the terminator is not done', () => {
  const empty = decodeChunks([Buffer.from('.\r\n')]);
  assert.ok(empty.done);
  assert.equal(empty.body.length, 0);
  const partial = decodeChunks([Buffer.from('line\r\n.'), Buffer.from('\r')]);
  assert.equal(partial.done, false);
  assert.equal(partial.body.toString(), 'line\r\n');
});

test('decoder: "x.\\r\\n" inside a line and ". " are data, not terminators', () => {
  const body = Buffer.from('end.\r\n. \r\n.\t\r\n');
  assert.deepEqual(decodeChunks([wireOf(body)]).body, body);
});

test('decoder: 8-bit bytes pass through exactly', () => {
  const all = Buffer.from([...Array(256).keys()].map((i) => i).filter((b) => b !== 0x0a && b !== 0x0d));
  const body = Buffer.concat([all, Buffer.from('\r\n'), all, Buffer.from('\r\n')]);
  assert.deepEqual(decodeChunks([wireOf(body)]).body, body);
});

test('decoder: any CRLF message survives stuffing and any chunking (property)', () => {
  const lineArb = fc.oneof(
    fc.uint8Array({ maxLength: 40 }).map((a) => Buffer.from(a.filter((b) => b !== 0x0a && b !== 0x0d))),
    fc.constantFrom(Buffer.from('.'), Buffer.from('..'), Buffer.from('.foo'), Buffer.from(''), Buffer.from('. ')),
  );
  fc.assert(
    fc.property(fc.array(lineArb, { maxLength: 30 }), fc.array(fc.nat(), { maxLength: 10 }), (lines, cuts) => {
      const body = Buffer.concat(lines.flatMap((l) => [l, Buffer.from('\r\n')]));
      const wire = Buffer.concat([wireOf(body), Buffer.from('+OK')]);
      const points = [...new Set(cuts.map((c) => c % (wire.length + 1)))].sort((a, b) => a - b);
      const chunks: Buffer[] = [];
      let prev = 0;
      for (const p of points) {
        chunks.push(wire.subarray(prev, p));
        prev = p;
      }
      chunks.push(wire.subarray(prev));
      const r = decodeChunks(chunks);
      assert.ok(r.done);
      assert.deepEqual(r.body, body);
      assert.equal(r.rest.toString(), '+OK');
    }),
    { numRuns: 500 },
  );
});

test('decoder: a 1 MB line and a 3 MB body in 64 KB chunks', () => {
  const big = Buffer.alloc(1024 * 1024 + 7, 'x');
  const body = Buffer.concat([Buffer.from('Subject: big\r\n\r\n'), big, Buffer.from('\r\n'), Buffer.alloc(2 * 1024 * 1024, 'y'), Buffer.from('\r\n')]);
  const wire = wireOf(body);
  const chunks: Buffer[] = [];
  for (let i = 0; i < wire.length; i += 65536) chunks.push(wire.subarray(i, i + 65536));
  assert.deepEqual(decodeChunks(chunks).body, body);
});

test('status lines: +OK, -ERR, continuation, response codes, garbage', () => {
  assert.deepEqual(parseStatusLine('+OK 2 320'), { kind: 'ok', text: '2 320', line: '+OK 2 320', code: undefined });
  assert.equal(parseStatusLine('+OK')?.kind, 'ok');
  assert.equal(parseStatusLine('+ok lowercase')?.kind, 'ok');
  const err = parseStatusLine('-ERR [IN-USE] Unable to lock maildrop');
  assert.equal(err?.kind, 'err');
  assert.equal(err?.code, 'IN-USE');
  assert.equal(parseStatusLine('-ERR')?.kind, 'err');
  assert.equal(parseStatusLine('+ VXNlcm5hbWU6'), undefined, 'continuation only inside AUTH');
  assert.deepEqual(parseStatusLine('+ VXNlcm5hbWU6', true), { kind: 'continue', text: 'VXNlcm5hbWU6', line: '+ VXNlcm5hbWU6', code: undefined });
  assert.equal(parseStatusLine('+', true)?.kind, 'continue');
  assert.equal(parseStatusLine('+OKAY'), undefined);
  assert.equal(parseStatusLine('* OK IMAP4rev1'), undefined);
  assert.equal(parseStatusLine('220 smtp.example.com ESMTP'), undefined);
  assert.equal(parseRespCode('[SYS/TEMP] later'), 'SYS/TEMP');
  assert.equal(parseRespCode('[auth] bad'), 'AUTH');
  assert.equal(parseRespCode('no code [IN-USE]'), undefined);
});

test('APOP timestamp: RFC 1939 example, none, and a greeting with other brackets', () => {
  assert.equal(extractApopTimestamp('POP3 server ready <1896.697170952@dbc.mtview.ca.us>'), '<1896.697170952@dbc.mtview.ca.us>');
  assert.equal(extractApopTimestamp('Dovecot ready.'), undefined);
  assert.equal(extractApopTimestamp('ready <no-at-sign> and <123.456@host>'), '<123.456@host>');
});

test('CAPA: Dovecot-like and Gmail-like lists', () => {
  const dovecot = parseCapabilities(['CAPA', 'TOP', 'UIDL', 'RESP-CODES', 'PIPELINING', 'AUTH-RESP-CODE', 'STLS', 'USER', 'SASL PLAIN LOGIN CRAM-MD5 APOP']);
  assert.equal(dovecot.top && dovecot.uidl && dovecot.respCodes && dovecot.pipelining && dovecot.stls && dovecot.user && dovecot.authRespCode, true);
  assert.deepEqual(dovecot.sasl, ['PLAIN', 'LOGIN', 'CRAM-MD5', 'APOP']);
  assert.equal(dovecot.expire, undefined);
  const gmail = parseCapabilities(['USER', 'RESP-CODES', 'EXPIRE 0', 'LOGIN-DELAY 300', 'TOP', 'UIDL', 'X-GOOGLE-RICO', 'SASL PLAIN XOAUTH2 OAUTHBEARER']);
  assert.equal(gmail.expire, 0);
  assert.equal(gmail.loginDelay, 300);
  assert.equal(gmail.pipelining, false);
  assert.equal(gmail.stls, false);
  const other = parseCapabilities(['IMPLEMENTATION Shlemazle Plotz-v302', 'EXPIRE NEVER', 'uidl', 'sasl plain']);
  assert.equal(other.implementation, 'Shlemazle Plotz-v302');
  assert.equal(other.expire, 'never');
  assert.equal(other.uidl, true);
  assert.deepEqual(other.sasl, ['PLAIN']);
});

test('STAT, LIST, UIDL bodies', () => {
  assert.deepEqual(parseStat('2 320'), { count: 2, size: 320 });
  assert.equal(parseStat('no'), undefined);
  assert.deepEqual(parseListLines(['1 120', '2 200']).entries, [{ seq: 1, size: 120 }, { seq: 2, size: 200 }]);
  assert.deepEqual(parseListLines(['1 x']).bad, ['1 x']);
  const u = parseUidlLines(['1 whqtswO00WBw418f9t5JxYwZ', '2 QhdPYR:00WBw1Ph7x7']);
  assert.deepEqual(u.entries, [{ seq: 1, uid: 'whqtswO00WBw418f9t5JxYwZ' }, { seq: 2, uid: 'QhdPYR:00WBw1Ph7x7' }]);
  assert.deepEqual(parseUidlLines(['3']).bad, ['3']);
  assert.deepEqual(splitLines(Buffer.from('a\r\nb\nc\r\n')), ['a', 'b', 'c']);
});

test('commands: secrets are redacted in the log form, line breaks are refused', () => {
  const pass = buildCommand('PASS', ['s3cret pw'], 0);
  assert.equal(pass.line, 'PASS s3cret pw');
  assert.equal(pass.logAs, 'PASS ****');
  const apop = buildCommand('APOP', ['mrose', 'c4c9334bac560ecc979e58001b3e22fb'], 1);
  assert.equal(apop.logAs, 'APOP mrose ****');
  assert.equal(buildCommand('RETR', [3]).logAs, 'RETR 3');
  assert.equal(saslResponse('AGFsaWNlAHB3').logAs, '****');
  assert.throws(
    () => buildCommand('USER', ['alice\r\nDELE 1']),
    (e: unknown) => e instanceof MailError && e.kind === 'config',
  );
});

test('APOP digest: the RFC 1939 §7 example', () => {
  assert.equal(apopDigest('<1896.697170952@dbc.mtview.ca.us>', 'tanstaaf'), 'c4c9334bac560ecc979e58001b3e22fb');
});

test('CRAM-MD5 response: the RFC 2195 example', () => {
  const challenge = Buffer.from('PDE4OTYuNjk3MTcwOTUyQHBvc3RvZmZpY2UucmVzdG9uLm1jaS5uZXQ+', 'base64');
  const r = cramMd5Response('tim', 'tanstaaftanstaaf', challenge);
  assert.equal(r, 'tim b913a602c7eda7a495b4e6e7334d3890');
  assert.equal(Buffer.from(r).toString('base64'), 'dGltIGI5MTNhNjAyYzdlZGE3YTQ5NWI0ZTZlNzMzNGQzODkw');
});

test('auto auth method: USER when advertised or no CAPA, else PLAIN, LOGIN, CRAM-MD5; XOAUTH2 for a token', () => {
  const caps = (lines: string[]) => parseCapabilities(lines);
  assert.equal(chooseAuthMethod({ user: 'a', pass: 'b' }, undefined), 'user');
  assert.equal(chooseAuthMethod({ user: 'a', pass: 'b' }, caps(['USER', 'SASL PLAIN'])), 'user');
  assert.equal(chooseAuthMethod({ user: 'a', pass: 'b' }, caps(['SASL PLAIN LOGIN'])), 'plain');
  assert.equal(chooseAuthMethod({ user: 'a', pass: 'b' }, caps(['SASL LOGIN'])), 'login');
  assert.equal(chooseAuthMethod({ user: 'a', pass: 'b' }, caps(['SASL CRAM-MD5'])), 'cram-md5');
  assert.equal(chooseAuthMethod({ user: 'a', accessToken: 't' }, caps(['USER'])), 'xoauth2');
  assert.equal(chooseAuthMethod({ user: 'a', pass: 'b', method: 'login' }, caps(['USER'])), 'login');
  assert.throws(
    () => chooseAuthMethod({ user: 'a', pass: 'b' }, caps(['TOP', 'UIDL', 'STLS'])),
    (e: unknown) => e instanceof MailError && e.code === 'AUTH_UNSUPPORTED' && e.kind === 'config',
  );
});
