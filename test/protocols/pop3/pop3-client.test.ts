// Pop3Client against the in-process fake server (fake-pop3-server.ts): framing faults,
// byte exactness, auth wire exchanges, pipelining, STLS/TLS, timeouts, backpressure,
// error classification and log redaction.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { Writable, type Readable } from 'node:stream';
import iconv from 'iconv-lite';
import pino from 'pino';
import { MailError } from '../../../src/protocols/mail-error.ts';
import { Pop3Client, connectPop3, type Pop3ClientOptions } from '../../../src/protocols/pop3/pop3-client.ts';
import type { Pop3Logger } from '../../../src/protocols/pop3/logger.ts';
import { dotStuff } from '../../../src/protocols/pop3/protocol/multiline-decoder.ts';
import { DEFAULT_CAPA, serveMailbox, startFakePop3Server, testCertificate, type FakeServer, type FakeServerOptions, type Mailbox, type Script } from './fake-pop3-server.ts';

const FAST = { connect: 5_000, greeting: 5_000, command: 5_000, dataIdle: 5_000, tlsHandshake: 5_000 };

async function server(t: TestContext, script: Script, options?: FakeServerOptions): Promise<FakeServer> {
  const s = await startFakePop3Server(script, options);
  t.after(() => s.close());
  return s;
}

function options(port: number, extra: Partial<Pop3ClientOptions> = {}): Pop3ClientOptions {
  return { host: '127.0.0.1', port, encryption: 'none', auth: { user: 'alice', pass: 'alice-pw' }, timeouts: FAST, ...extra };
}

async function open(t: TestContext, port: number, extra: Partial<Pop3ClientOptions> = {}): Promise<Pop3Client> {
  const client = await connectPop3(options(port, extra));
  t.after(() => client.close());
  return client;
}

async function readAll(stream: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const chunk of stream) parts.push(chunk as Buffer);
  return Buffer.concat(parts);
}

function isMailError(code: string, kind?: string) {
  return (e: unknown): boolean => {
    assert.ok(e instanceof MailError, `expected MailError ${code}, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    if (kind) assert.equal(e.kind, kind);
    return true;
  };
}

const msg = (subject: string, body: string): Buffer => Buffer.from(`From: a@example.org\r\nSubject: ${subject}\r\n\r\n${body}`);

test('basic session: STAT, LIST, UIDL, listMessages, TOP, RETR, DELE, QUIT commits', async (t) => {
  const box: Mailbox = { messages: [msg('one', 'first\r\n'), msg('two', 'second\r\n'), msg('three', 'third\r\n')], uids: ['u1', 'u2', 'u3'] };
  const srv = await server(t, (s) => serveMailbox(s, box));
  const client = await open(t, srv.port);
  assert.equal(client.authenticatedWith, 'user');
  assert.equal(client.capabilities?.uidl, true);
  assert.equal(client.greeting?.apopTimestamp, '<1896.697170952@fake.test>');
  assert.deepEqual(await client.stat(), { count: 3, size: box.messages.reduce((a, m) => a + m.length, 0) });
  assert.deepEqual(await client.list(), box.messages.map((m, i) => ({ seq: i + 1, size: m.length })));
  assert.deepEqual(await client.uidl(), [{ seq: 1, uid: 'u1' }, { seq: 2, uid: 'u2' }, { seq: 3, uid: 'u3' }]);
  assert.deepEqual(await client.listMessages(), box.messages.map((m, i) => ({ seq: i + 1, uid: `u${i + 1}`, size: m.length })));
  assert.equal((await client.top(2, 0)).toString(), 'From: a@example.org\r\nSubject: two\r\n\r\n');
  assert.deepEqual(await readAll(await client.retr(2)), box.messages[1]);
  await client.dele(1);
  await client.dele(3);
  await client.noop();
  await client.quit();
  assert.deepEqual(box.deletedAtQuit, [1, 3]);
  assert.deepEqual(srv.errors, []);
});

test('close() without QUIT commits nothing', async (t) => {
  const box: Mailbox = { messages: [msg('one', 'x\r\n')] };
  const srv = await server(t, (s) => serveMailbox(s, box));
  const client = await open(t, srv.port);
  await client.dele(1);
  client.close();
  await srv.sessions[0]?.closed;
  assert.equal(box.deletedAtQuit, undefined);
  assert.ok(!srv.sessions[0]?.received.includes('QUIT'));
  await assert.rejects(client.noop(), isMailError('CONNECTION_CLOSED', 'transient'));
});

test('RETR: the terminator split across TCP chunks at every byte position', async (t) => {
  const body = Buffer.from('Subject: split\r\n\r\n..\r\nx\r\n.\r\n');
  const wire = Buffer.concat([Buffer.from('+OK message follows\r\n'), dotStuff(body), Buffer.from('.\r\n')]);
  const srv = await server(t, async (s) => {
    s.socket.setNoDelay(true);
    await s.line('+OK ready');
    for (;;) {
      const line = await s.next().catch(() => 'QUIT');
      if (line === 'CAPA') await s.line('-ERR no CAPA here');
      else if (line.startsWith('USER') || line.startsWith('PASS')) await s.line('+OK');
      else if (line.startsWith('RETR ')) {
        const at = Number(line.slice(5)) - 1; // RETR n splits the reply after byte n-1
        await s.write(wire.subarray(0, at));
        await new Promise((r) => setTimeout(r, 2));
        await s.write(wire.subarray(at));
      } else {
        await s.line('+OK bye');
        return;
      }
    }
  });
  const client = await open(t, srv.port);
  for (let n = 1; n <= wire.length + 1; n++) {
    assert.deepEqual(await readAll(await client.retr(n)), body.subarray(2 - 2), `split after byte ${n - 1}`);
  }
  await client.quit();
  assert.deepEqual(srv.errors, []);
});

test('RETR: "..", ".foo", 8-bit Shift_JIS and ISO-2022-JP bytes, and a 1 MB line come back byte-exact', async (t) => {
  const sjis = iconv.encode('件名: ソ表能 日本語のテスト。半角ｶﾀｶﾅ\r\n', 'Shift_JIS');
  assert.ok(sjis.includes(0x5c), 'Shift_JIS sample contains 0x5C trail bytes');
  const messages = [
    Buffer.from('Subject: dots\r\n\r\n.\r\n..\r\n.foo\r\n..bar\r\n. \r\n'),
    Buffer.concat([Buffer.from('Subject: sjis\r\nContent-Type: text/plain; charset=Shift_JIS\r\n\r\n'), sjis, sjis]),
    Buffer.concat([Buffer.from('Subject: jis\r\n\r\n'), Buffer.from([0x1b, 0x24, 0x42, 0x46, 0x7c, 0x4b, 0x5c, 0x38, 0x6c, 0x1b, 0x28, 0x42]) /* 日本語 in ISO-2022-JP */, Buffer.from([0x80, 0xff, 0xfe, 0x00, 0x1b]), Buffer.from('\r\n')]),
    Buffer.concat([Buffer.from('Subject: long line\r\n\r\n'), Buffer.alloc(1024 * 1024 + 3, 'A'), Buffer.from('\r\n.tail\r\n')]),
  ];
  const box: Mailbox = { messages };
  const srv = await server(t, (s) => serveMailbox(s, box));
  const client = await open(t, srv.port);
  for (let i = 0; i < messages.length; i++) {
    assert.deepEqual(await readAll(await client.retr(i + 1)), messages[i], `message ${i + 1}`);
  }
  await client.quit();
});

test('slow drip: every reply arrives one byte at a time', async (t) => {
  const box: Mailbox = { messages: [msg('drip', 'a\r\n.\r\nb\r\n'), msg('drip2', 'c\r\n')], send: (s, d) => s.drip(d) };
  const srv = await server(t, (s) => serveMailbox(s, box));
  const client = await open(t, srv.port);
  assert.equal((await client.listMessages()).length, 2);
  assert.deepEqual(await readAll(await client.retr(1)), box.messages[0]);
  await client.deleMany([1, 2]);
  await client.quit();
  assert.deepEqual(box.deletedAtQuit, [1, 2]);
});

for (const how of ['reset', 'close'] as const) {
  test(`connection dropped mid-RETR (${how}): the stream errors with CONNECTION_CLOSED and never ends`, async (t) => {
    let drop!: () => void;
    const dropNow = new Promise<void>((resolve) => (drop = resolve));
    const srv = await server(t, async (s) => {
      await s.line('+OK ready');
      assert.equal(await s.next(), 'CAPA');
      await s.line('-ERR');
      await s.next();
      await s.line('+OK');
      await s.next();
      await s.line('+OK');
      assert.equal(await s.next(), 'RETR 1');
      await s.write('+OK\r\nSubject: cut\r\n\r\nhalf a bo');
      await dropNow; // the client has seen the first bytes of the body
      if (how === 'reset') s.destroy();
      else s.end();
    });
    const client = await open(t, srv.port);
    const stream = await client.retr(1);
    const parts: Buffer[] = [];
    const outcome = await new Promise<unknown>((resolve) => {
      stream.on('data', (c: Buffer) => {
        parts.push(c);
        drop();
      });
      stream.on('end', () => resolve('end'));
      stream.on('error', resolve);
    });
    assert.ok(isMailError('CONNECTION_CLOSED', 'transient')(outcome));
    assert.ok('Subject: cut\r\n\r\nhalf a bo'.startsWith(Buffer.concat(parts).toString()));
    await assert.rejects(client.noop(), isMailError('CONNECTION_CLOSED'));
  });
}

test('-ERR [IN-USE] to PASS → MAILBOX_IN_USE (transient); -ERR [SYS/TEMP] to RETR → SERVER_TEMPORARY and the session goes on', async (t) => {
  const inUse = await server(t, async (s) => {
    await s.line('+OK ready');
    await s.next();
    await s.line('-ERR');
    await s.next();
    await s.line('+OK');
    await s.next();
    await s.line('-ERR [IN-USE] Unable to lock maildrop');
  });
  await assert.rejects(connectPop3(options(inUse.port)), (e: unknown) => isMailError('MAILBOX_IN_USE', 'transient')(e) && (e as MailError).command === 'PASS ****');

  const box: Mailbox = {
    messages: [msg('a', 'x\r\n')],
    onCommand: async (s, line) => {
      if (line !== 'RETR 1') return false;
      await s.line('-ERR [SYS/TEMP] Temporary system problem. Please try again later.');
      return true;
    },
  };
  const temp = await server(t, (s) => serveMailbox(s, box));
  const client = await open(t, temp.port);
  await assert.rejects(client.retr(1), isMailError('SERVER_TEMPORARY', 'transient'));
  await client.noop();
  await client.quit();
  assert.deepEqual(temp.errors, []);
});

test('wrong password → AUTH_FAILED (auth), and the connection is closed', async (t) => {
  const srv = await server(t, (s) => serveMailbox(s, { messages: [] }));
  await assert.rejects(connectPop3(options(srv.port, { auth: { user: 'alice', pass: 'nope' } })), isMailError('AUTH_FAILED', 'auth'));
  await srv.sessions[0]?.closed;
});

test('no UIDL: CAPA without UIDL fails before sending anything; an RFC 1939 server answering -ERR fails too', async (t) => {
  const noCapaUidl = await server(t, (s) => serveMailbox(s, { messages: [msg('a', 'x\r\n')], capa: ['USER', 'TOP'] }));
  const c1 = await open(t, noCapaUidl.port);
  await assert.rejects(c1.listMessages(), isMailError('UIDL_UNSUPPORTED', 'config'));
  await assert.rejects(c1.uidl(), isMailError('UIDL_UNSUPPORTED', 'config'));
  assert.ok(!noCapaUidl.sessions[0]?.received.some((l) => l === 'UIDL' || l === 'LIST'));
  await c1.quit();

  const old = await server(t, (s) => serveMailbox(s, { messages: [msg('a', 'x\r\n')], capa: null, noUidl: true }));
  const c2 = await open(t, old.port);
  assert.equal(c2.capabilities, undefined);
  assert.equal(c2.authenticatedWith, 'user', 'no CAPA: USER/PASS');
  await assert.rejects(c2.listMessages(), isMailError('UIDL_UNSUPPORTED', 'config'));
  assert.deepEqual(await c2.list(), [{ seq: 1, size: msg('a', 'x\r\n').length }]);
  await c2.quit();
});

test('APOP: the digest the server checks; a greeting without timestamp → APOP_UNSUPPORTED before any command', async (t) => {
  const box: Mailbox = { messages: [msg('a', 'x\r\n')], greeting: 'POP3 server ready <1896.697170952@dbc.mtview.ca.us>', user: 'mrose', pass: 'tanstaaf' };
  const srv = await server(t, (s) => serveMailbox(s, box));
  const client = await open(t, srv.port, { apop: true, auth: { user: 'mrose', pass: 'tanstaaf' }, });
  assert.equal(client.authenticatedWith, 'apop');
  assert.ok(srv.sessions[0]?.received.includes('APOP mrose c4c9334bac560ecc979e58001b3e22fb'));
  await client.quit();

  const bad = await server(t, (s) => serveMailbox(s, { ...box, pass: 'other' }));
  await assert.rejects(connectPop3(options(bad.port, { apop: true, auth: { user: 'mrose', pass: 'tanstaaf' } })), isMailError('AUTH_FAILED', 'auth'));

  const none = await server(t, (s) => serveMailbox(s, { messages: [], greeting: 'Dovecot ready.' }));
  await assert.rejects(connectPop3(options(none.port, { auth: { method: 'apop', user: 'alice', pass: 'alice-pw' } })), isMailError('APOP_UNSUPPORTED', 'config'));
  assert.deepEqual(none.sessions[0]?.received, ['CAPA']);
});

test('SASL wire exchanges: PLAIN, LOGIN, CRAM-MD5, XOAUTH2', async (t) => {
  const b64 = (s: string): string => Buffer.from(s).toString('base64');
  const expected: Record<string, string[]> = {
    plain: ['AUTH PLAIN', b64('\0alice\0alice-pw')],
    login: ['AUTH LOGIN', b64('alice'), b64('alice-pw')],
    'cram-md5': ['AUTH CRAM-MD5', b64('alice ' + (await import('node:crypto')).createHmac('md5', 'alice-pw').update('<12345.67890@fake.test>').digest('hex'))],
    xoauth2: ['AUTH XOAUTH2', b64('user=alice\x01auth=Bearer ya29.token\x01\x01')],
  };
  for (const method of ['plain', 'login', 'cram-md5', 'xoauth2'] as const) {
    const box: Mailbox = { messages: [msg('a', 'x\r\n')], accessToken: 'ya29.token' };
    const srv = await server(t, (s) => serveMailbox(s, box));
    const auth = method === 'xoauth2' ? { method, user: 'alice', accessToken: 'ya29.token' } : { method, user: 'alice', pass: 'alice-pw' };
    const client = await open(t, srv.port, { auth });
    assert.equal(client.authenticatedWith, method);
    assert.deepEqual(srv.sessions[0]?.received.slice(0, -1), ['CAPA', ...(expected[method] as string[])], method);
    assert.equal(srv.sessions[0]?.received.at(-1), 'CAPA', 'CAPA is read again after login');
    assert.equal((await client.listMessages()).length, 1);
    await client.quit();
  }
});

test('SASL failures: a refused XOAUTH2 token answers the JSON challenge with an empty line; auto picks PLAIN without USER', async (t) => {
  const srv = await server(t, (s) => serveMailbox(s, { messages: [], accessToken: 'good' }));
  await assert.rejects(connectPop3(options(srv.port, { auth: { method: 'xoauth2', user: 'alice', accessToken: 'expired' } })), isMailError('AUTH_FAILED', 'auth'));
  assert.equal(srv.sessions[0]?.received.at(-1), '');

  const plainOnly = await server(t, (s) => serveMailbox(s, { messages: [], capa: ['UIDL', 'SASL PLAIN'] }));
  const client = await open(t, plainOnly.port);
  assert.equal(client.authenticatedWith, 'plain');
  await client.quit();

  const wrongCram = await server(t, (s) => serveMailbox(s, { messages: [] }));
  await assert.rejects(connectPop3(options(wrongCram.port, { auth: { method: 'cram-md5', user: 'alice', pass: 'wrong' } })), isMailError('AUTH_FAILED', 'auth'));

  const noMech = await server(t, (s) => serveMailbox(s, { messages: [], sasl: ['PLAIN'] }));
  await assert.rejects(connectPop3(options(noMech.port, { auth: { method: 'login', user: 'alice', pass: 'alice-pw' } })), isMailError('AUTH_UNSUPPORTED', 'config'));
});

test('PIPELINING: batches really are in flight together (the server sees them before replying)', { timeout: 20_000 }, async (t) => {
  const messages = [1, 2, 3, 4, 5, 6].map((i) => msg(`m${i}`, `body ${i}\r\n`));
  const seen: string[] = [];
  const box: Mailbox = {
    messages,
    capa: [...DEFAULT_CAPA, 'PIPELINING'],
    onCommand: async (s, line) => {
      if (line === 'LIST') {
        await s.waitForPending(1);
        seen.push(`LIST+${s.pendingCount()}`);
      }
      if (line === 'RETR 1' || line === 'DELE 1') {
        await s.waitForPending(5);
        seen.push(`${line}+${s.pendingCount()}`);
      }
    },
  };
  const srv = await server(t, (s) => serveMailbox(s, box));
  const client = await open(t, srv.port);
  assert.equal(client.capabilities?.pipelining, true);
  assert.equal((await client.listMessages()).length, 6);
  const got: Buffer[] = [];
  await client.retrMany([1, 2, 3, 4, 5, 6], async (_seq, stream) => {
    got.push(await readAll(stream));
  });
  assert.deepEqual(got, messages);
  await client.deleMany([1, 2, 3, 4, 5, 6]);
  await client.quit();
  assert.deepEqual(seen, ['LIST+1', 'RETR 1+5', 'DELE 1+5']);
  assert.deepEqual(box.deletedAtQuit, [1, 2, 3, 4, 5, 6]);
});

test('PIPELINING window bounds the commands in flight', async (t) => {
  const messages = Array.from({ length: 10 }, (_, i) => msg(`m${i}`, `b${i}\r\n`));
  let maxPending = 0;
  const box: Mailbox = {
    messages,
    capa: [...DEFAULT_CAPA, 'PIPELINING'],
    onCommand: async (s, line) => {
      if (line === 'RETR 1') await s.waitForPending(2);
      if (line.startsWith('RETR')) maxPending = Math.max(maxPending, s.pendingCount());
    },
  };
  const srv = await server(t, (s) => serveMailbox(s, box));
  const client = await open(t, srv.port, { pipelineWindow: 3 });
  let n = 0;
  await client.retrMany(messages.map((_, i) => i + 1), async (_seq, stream) => {
    await readAll(stream);
    n++;
  });
  assert.equal(n, 10);
  assert.equal(maxPending, 2);
  await client.quit();
});

test('without PIPELINING every command waits for the previous reply', async (t) => {
  const messages = Array.from({ length: 5 }, (_, i) => msg(`m${i}`, `b${i}\r\n`));
  let maxPending = 0;
  const box: Mailbox = { messages, onCommand: async (s) => void (maxPending = Math.max(maxPending, s.pendingCount())) };
  const srv = await server(t, (s) => serveMailbox(s, box));
  const client = await open(t, srv.port);
  await client.listMessages();
  await client.retrMany([1, 2, 3, 4, 5], async (_seq, stream) => void (await readAll(stream)));
  await Promise.all([client.dele(1), client.dele(2), client.noop()]);
  await client.deleMany([3, 4, 5]);
  await client.quit();
  assert.equal(maxPending, 0);
  assert.deepEqual(box.deletedAtQuit, [1, 2, 3, 4, 5]);
});

test('retrMany: an unread body is skipped cleanly; a throwing onMessage stops the batch and leaves the session usable', async (t) => {
  const messages = Array.from({ length: 6 }, (_, i) => msg(`m${i + 1}`, `${'x'.repeat(100_000)}\r\n`));
  const box: Mailbox = { messages, capa: [...DEFAULT_CAPA, 'PIPELINING'] };
  const srv = await server(t, (s) => serveMailbox(s, box));
  const client = await open(t, srv.port);
  const got = new Map<number, Buffer>();
  await client.retrMany([1, 2, 3], async (seq, stream) => {
    if (seq !== 2) got.set(seq, await readAll(stream));
  });
  assert.deepEqual(got.get(1), messages[0]);
  assert.deepEqual(got.get(3), messages[2]);

  const boom = new Error('storage failed');
  const seen: number[] = [];
  await assert.rejects(
    client.retrMany([4, 5, 6], async (seq, stream) => {
      seen.push(seq);
      if (seq === 5) throw boom;
      await readAll(stream);
    }),
    (e) => e === boom,
  );
  assert.deepEqual(seen, [4, 5]);
  await client.noop();
  assert.deepEqual(await readAll(await client.retr(6)), messages[5]);
  await client.quit();
  assert.deepEqual(box.deletedAtQuit, []);
});

test('retrMany: a -ERR for one message is classified; a dropped connection rejects the batch', async (t) => {
  const box: Mailbox = { messages: [msg('a', 'x\r\n'), msg('b', 'y\r\n')] };
  const srv = await server(t, (s) => serveMailbox(s, box));
  const client = await open(t, srv.port);
  await assert.rejects(client.retrMany([1, 7, 2], async (_s, stream) => void (await readAll(stream))), isMailError('COMMAND_FAILED', 'permanent'));
  await client.noop();
  await client.quit();

  const drop = await server(t, (s) =>
    serveMailbox(s, {
      messages: [msg('a', 'x\r\n'), msg('b', 'y\r\n')],
      onCommand: async (sess, line) => {
        if (line === 'RETR 2') {
          await sess.write('+OK\r\nSubject: b\r\n');
          sess.destroy();
          throw new Error('stop');
        }
      },
    }).catch(() => {}),
  );
  const c2 = await open(t, drop.port);
  const bodies: number[] = [];
  await assert.rejects(
    c2.retrMany([1, 2], async (seq, stream) => {
      await readAll(stream);
      bodies.push(seq);
    }),
    isMailError('CONNECTION_CLOSED', 'transient'),
  );
  assert.deepEqual(bodies, [1]);
});

test('backpressure: a consumer that does not read pauses the socket; then the message arrives intact', { timeout: 60_000 }, async (t) => {
  const total = 48 * 1024 * 1024;
  const piece = Buffer.alloc(64 * 1024);
  for (let i = 0; i < piece.length; i++) piece[i] = i % 64 === 63 ? 0x0a : 0x41 + (i % 26);
  let sent = 0;
  let blocked = false;
  let onBlocked!: () => void;
  const blockedOnce = new Promise<void>((resolve) => (onBlocked = resolve));
  const srv = await server(t, async (s) => {
    await s.line('+OK ready');
    await s.next();
    await s.line('-ERR');
    await s.next();
    await s.line('+OK');
    await s.next();
    await s.line('+OK');
    assert.equal(await s.next(), 'RETR 1');
    await s.write('+OK\r\n');
    while (sent < total) {
      const ok = s.socket.write(piece);
      sent += piece.length;
      if (!ok) {
        blocked = true;
        onBlocked();
        await new Promise((r) => s.socket.once('drain', r));
      }
    }
    await s.write('.\r\n');
    assert.equal(await s.next(), 'QUIT');
    await s.line('+OK');
  });
  const client = await open(t, srv.port);
  const stream = await client.retr(1);
  await blockedOnce;
  await new Promise((r) => setTimeout(r, 200)); // room for a client without backpressure to swallow more
  assert.ok(blocked, 'the server was blocked by TCP flow control');
  assert.ok(sent < total, `server could not send everything (${sent} of ${total})`);
  assert.ok(stream.readableLength <= 2 * 1024 * 1024, `client buffered ${stream.readableLength} bytes`);
  const hash = createHash('sha256');
  let size = 0;
  for await (const chunk of stream) {
    hash.update(chunk as Buffer);
    size += (chunk as Buffer).length;
  }
  assert.equal(size, total);
  const expected = createHash('sha256');
  for (let i = 0; i < total / piece.length; i++) expected.update(piece);
  assert.equal(hash.digest('hex'), expected.digest('hex'));
  await client.quit();
});

test('timeouts: no greeting, no reply, and a stalled body → TIMEOUT (transient)', async (t) => {
  const silent = await server(t, async (s) => void (await s.closed));
  await assert.rejects(connectPop3(options(silent.port, { timeouts: { ...FAST, greeting: 200 } })), isMailError('TIMEOUT', 'transient'));

  const mute = await server(t, async (s) => {
    await s.line('+OK ready');
    await s.closed;
  });
  await assert.rejects(connectPop3(options(mute.port, { timeouts: { ...FAST, command: 200 } })), (e: unknown) => isMailError('TIMEOUT', 'transient')(e) && (e as MailError).command === 'CAPA');

  const stall = await server(t, (s) =>
    serveMailbox(s, {
      messages: [msg('a', 'x\r\n')],
      onCommand: async (sess, line) => {
        if (line === 'RETR 1') {
          await sess.write('+OK\r\nSubject: a\r\n');
          await sess.closed;
          return true;
        }
        return false;
      },
    }),
  );
  const client = await open(t, stall.port, { timeouts: { ...FAST, dataIdle: 200 } });
  const stream = await client.retr(1);
  await assert.rejects(readAll(stream), isMailError('TIMEOUT', 'transient'));
});

test('protocol errors: a runaway status line, a reply that is not +OK/-ERR, and data nobody asked for', async (t) => {
  const huge = await server(t, async (s) => {
    await s.line('+OK ready');
    await s.next();
    await s.write('+OK ' + 'x'.repeat(200_000));
    await s.closed;
  });
  await assert.rejects(connectPop3(options(huge.port)), isMailError('PROTOCOL_ERROR'));

  const garbage = await server(t, async (s) => {
    await s.line('+OK ready');
    await s.next();
    await s.line('* OK [CAPABILITY IMAP4rev1] this is IMAP');
    await s.closed;
  });
  await assert.rejects(connectPop3(options(garbage.port)), isMailError('PROTOCOL_ERROR'));

  const badGreeting = await server(t, async (s) => {
    await s.line('-ERR Too many connections');
    await s.closed;
  });
  await assert.rejects(connectPop3(options(badGreeting.port)), isMailError('GREETING_FAILED', 'transient'));
});

test('STLS: upgrade, CAPA re-read after TLS, login over TLS', async (t) => {
  const { cert } = testCertificate();
  const box: Mailbox = { messages: [msg('tls', 'secret\r\n')], stls: true, capa: ['CAPA', 'UIDL', 'STLS', 'SASL'], capaAfterTls: ['CAPA', 'UIDL', 'USER', 'PIPELINING', 'SASL PLAIN'] };
  const srv = await server(t, (s) => serveMailbox(s, box));
  const client = await open(t, srv.port, { encryption: 'starttls', ca: cert });
  assert.equal(client.secure, true);
  assert.equal(srv.sessions[0]?.secure, true);
  assert.equal(client.capabilities?.stls, false);
  assert.equal(client.capabilities?.user, true, 'capabilities come from the CAPA after TLS');
  assert.equal(client.authenticatedWith, 'user');
  assert.deepEqual(srv.sessions[0]?.received.slice(0, 4), ['CAPA', 'STLS', 'CAPA', 'USER alice']);
  assert.deepEqual(await readAll(await client.retr(1)), box.messages[0]);
  await client.quit();
});

test('STLS refused: not in CAPA, -ERR from a server without CAPA, untrusted certificate, injected reply', async (t) => {
  const { cert } = testCertificate();
  const notOffered = await server(t, (s) => serveMailbox(s, { messages: [] }));
  await assert.rejects(connectPop3(options(notOffered.port, { encryption: 'starttls', ca: cert })), isMailError('STARTTLS_UNSUPPORTED', 'tls'));
  assert.deepEqual(notOffered.sessions[0]?.received, ['CAPA'], 'no STLS tried, no password sent');

  const noCapa = await server(t, (s) => serveMailbox(s, { messages: [], capa: null }));
  await assert.rejects(connectPop3(options(noCapa.port, { encryption: 'starttls', ca: cert })), isMailError('STARTTLS_UNSUPPORTED', 'tls'));
  assert.deepEqual(noCapa.sessions[0]?.received, ['CAPA', 'STLS']);

  const untrusted = await server(t, (s) => serveMailbox(s, { messages: [], stls: true, capa: ['STLS', 'USER', 'UIDL'] }));
  await assert.rejects(connectPop3(options(untrusted.port, { encryption: 'starttls' })), isMailError('TLS_FAILED', 'tls'));
  assert.ok(!untrusted.sessions[0]?.received.some((l) => l.startsWith('USER') || l.startsWith('PASS')));

  const insecureOk = await server(t, (s) => serveMailbox(s, { messages: [], stls: true, capa: ['STLS', 'USER', 'UIDL'] }));
  const c = await open(t, insecureOk.port, { encryption: 'starttls', allowInvalidCertificate: true });
  assert.equal(c.secure, true);
  await c.quit();

  const inject = await server(t, async (s) => {
    await s.line('+OK ready');
    await s.next();
    await s.write('+OK\r\nSTLS\r\n.\r\n');
    await s.next();
    await s.write('+OK Begin TLS\r\n+OK injected before TLS\r\n');
    await s.closed;
  });
  await assert.rejects(connectPop3(options(inject.port, { encryption: 'starttls', ca: cert })), isMailError('PROTOCOL_ERROR', 'tls'));
});

test('implicit TLS: verified with the CA, refused without it, SNI only for host names', async (t) => {
  const { cert } = testCertificate();
  const box: Mailbox = { messages: [msg('a', 'x\r\n')] };
  const names: (string | false | null | undefined)[] = [];
  const srv = await server(
    t,
    (s) => {
      names.push((s.socket as import('node:tls').TLSSocket).servername);
      return serveMailbox(s, box);
    },
    { tls: true },
  );
  const client = await open(t, srv.port, { encryption: 'tls', ca: cert });
  assert.equal(client.secure, true);
  assert.equal((await client.listMessages()).length, 1);
  await client.quit();
  await assert.rejects(connectPop3(options(srv.port, { encryption: 'tls' })), isMailError('TLS_FAILED', 'tls'));
  const named = await open(t, srv.port, { host: 'localhost', encryption: 'tls', ca: cert });
  await named.quit();
  assert.equal(names[0], false);
  assert.equal(names.at(-1), 'localhost');
});

test('connect failures: refused port → CONNECT_FAILED; plain server on a TLS connection → TLS_FAILED', async (t) => {
  const srv = await server(t, (s) => serveMailbox(s, { messages: [] }));
  const port = srv.port;
  await assert.rejects(connectPop3(options(port, { encryption: 'tls' })), isMailError('TLS_FAILED', 'tls'));
  await srv.close();
  await assert.rejects(connectPop3(options(port)), isMailError('CONNECT_FAILED', 'transient'));
});

test('the password, APOP digest, SASL payloads and token never reach the log', async (t) => {
  const entries: Record<string, unknown>[] = [];
  const capture: Pop3Logger = {
    debug: (o) => entries.push(o),
    info: (o) => entries.push(o),
    warn: (o) => entries.push(o),
    error: (o) => entries.push(o),
  };
  const lines: string[] = [];
  const real = pino({ level: 'debug' }, new Writable({ write: (c: Buffer, _e, cb) => void (lines.push(c.toString()), cb()) }));
  const pass = 'Sup3r-S3cret!';
  const token = 'ya29.A0ARrdaM-token-value';
  const secrets = [pass, token, Buffer.from(`\0alice\0${pass}`).toString('base64'), Buffer.from(pass).toString('base64'), Buffer.from(`user=alice\x01auth=Bearer ${token}\x01\x01`).toString('base64')];
  const apopDigest = createHash('md5').update('<1896.697170952@fake.test>' + pass).digest('hex');
  secrets.push(apopDigest);
  for (const auth of [
    { method: 'user' as const, user: 'alice', pass },
    { method: 'apop' as const, user: 'alice', pass },
    { method: 'plain' as const, user: 'alice', pass },
    { method: 'login' as const, user: 'alice', pass },
    { method: 'cram-md5' as const, user: 'alice', pass },
    { method: 'xoauth2' as const, user: 'alice', accessToken: token },
  ]) {
    for (const logger of [capture, real]) {
      const srv = await server(t, (s) => serveMailbox(s, { messages: [msg('a', 'x\r\n')], pass, accessToken: token }));
      const client = await open(t, srv.port, { auth, logger });
      await client.quit();
    }
  }
  const wrong = await server(t, (s) => serveMailbox(s, { messages: [] }));
  await assert.rejects(connectPop3(options(wrong.port, { auth: { user: 'alice', pass }, logger: real })));
  const text = JSON.stringify(entries) + lines.join('');
  for (const s of secrets) assert.ok(!text.includes(s), `log contains a secret: ${s}`);
  assert.ok(text.includes('PASS ****'));
  assert.ok(text.includes('APOP alice ****'));
  assert.ok(text.includes('"event":"pop3.command"'));
  assert.ok(entries.some((e) => e.event === 'pop3.auth.ok'));
});

test('commands before connect fail with CONNECTION_CLOSED; bad message numbers are refused locally', async (t) => {
  const client = new Pop3Client({ host: '127.0.0.1', port: 1 });
  await assert.rejects(client.stat(), isMailError('CONNECTION_CLOSED'));
  const srv = await server(t, (s) => serveMailbox(s, { messages: [] }));
  const c = await open(t, srv.port);
  await assert.rejects(c.retr(0), RangeError);
  await assert.rejects(c.deleMany([1, -2]), RangeError);
  await assert.rejects(c.top(1, -1), RangeError);
  await c.quit();
});
