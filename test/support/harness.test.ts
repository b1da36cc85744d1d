// Proves the test harness itself: a fresh PostgreSQL database answers queries, and the
// mailbed's Dovecot, smtp-sink and submit sink speak their protocols to raw clients (POP3
// over plain TCP, IMAP over STARTTLS and implicit TLS verified against the mailbed's CA,
// SMTP). Talks to the servers with node:net/node:tls only, so it depends on no product code.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { connect as netConnect } from 'node:net';
import type { Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import type { TLSSocket } from 'node:tls';
import { join } from 'node:path';
import pg from 'pg';
import { startPostgres, testDatabaseUrl } from './postgres.ts';
import { startMailbed, testMailbed } from './mailbed.ts';
import type { Mailbed } from './mailbed.ts';

const READ_TIMEOUT = 10_000;

/** A CRLF line reader over a socket, for byte-level protocol dialogues. */
class Lines {
  private buffer = '';
  private waiter: (() => void) | undefined;
  private ended = false;

  constructor(readonly socket: Socket | TLSSocket) {
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      this.buffer += chunk;
      this.waiter?.();
    });
    socket.on('close', () => {
      this.ended = true;
      this.waiter?.();
    });
    socket.on('error', () => undefined);
  }

  async line(): Promise<string> {
    const deadline = setTimeout(() => this.socket.destroy(new Error('read timeout')), READ_TIMEOUT);
    try {
      for (;;) {
        const i = this.buffer.indexOf('\r\n');
        if (i >= 0) {
          const line = this.buffer.slice(0, i);
          this.buffer = this.buffer.slice(i + 2);
          return line;
        }
        if (this.ended) throw new Error(`connection closed; unread: ${JSON.stringify(this.buffer)}`);
        await new Promise<void>((resolve) => (this.waiter = resolve));
        this.waiter = undefined;
      }
    } finally {
      clearTimeout(deadline);
    }
  }

  /** Lines up to and including the first one `last` accepts. */
  async until(last: (line: string) => boolean): Promise<string[]> {
    const out: string[] = [];
    for (;;) {
      const l = await this.line();
      out.push(l);
      if (last(l)) return out;
    }
  }

  async command(text: string, last: (line: string) => boolean = () => true): Promise<string[]> {
    this.socket.write(`${text}\r\n`);
    return this.until(last);
  }

  /** Stop reading here and hand the socket over (e.g. to a TLS handshake). */
  detach(): Socket | TLSSocket {
    this.socket.removeAllListeners('data');
    this.socket.removeAllListeners('close');
    assert.equal(this.buffer, '', 'no unread bytes before the hand-over');
    return this.socket;
  }
}

async function tcp(port: number): Promise<Lines> {
  const socket = netConnect({ host: '127.0.0.1', port });
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  return new Lines(socket);
}

async function tlsOver(options: { socket?: Socket; port?: number; ca?: Buffer }): Promise<TLSSocket> {
  const socket = tlsConnect({
    host: '127.0.0.1',
    servername: 'localhost',
    ...(options.socket ? { socket: options.socket } : { port: options.port }),
    ...(options.ca ? { ca: options.ca } : {}),
  });
  await new Promise<void>((resolve, reject) => {
    socket.once('secureConnect', resolve);
    socket.once('error', reject);
  });
  return socket;
}

const smtpLast = (l: string): boolean => /^\d{3} /.test(l);
const imapTagged = (tag: string) => (l: string): boolean => l.startsWith(`${tag} `);

function uniqueUser(prefix: string): string {
  return `${prefix}${process.pid}x${Math.random().toString(36).slice(2, 8)}`;
}

async function mailbedOrSkip(t: { skip(msg: string): void }): Promise<Mailbed | undefined> {
  const bed = await testMailbed();
  if (!bed) t.skip('Dovecot/smtp-sink/aiosmtpd not installed');
  return bed;
}

async function pop3Stat(bed: Mailbed, user: string, password: string): Promise<string> {
  const c = await tcp(bed.ports.pop3);
  try {
    assert.match(await c.line(), /^\+OK/);
    assert.match((await c.command(`USER ${user}`))[0] ?? '', /^\+OK/);
    const pass = (await c.command(`PASS ${password}`))[0] ?? '';
    if (!pass.startsWith('+OK')) return pass;
    const stat = (await c.command('STAT'))[0] ?? '';
    await c.command('QUIT');
    return stat;
  } finally {
    c.socket.destroy();
  }
}

function message(subject: string, body = 'hello'): string {
  return `From: a@example.org\r\nTo: b@example.org\r\nSubject: ${subject}\r\nMessage-ID: <${subject}@example.org>\r\n\r\n${body}\r\n`;
}

test('testDatabaseUrl gives a fresh database that runs queries', async (t) => {
  const url = await testDatabaseUrl();
  if (!url) return t.skip('PostgreSQL not installed');
  const other = await testDatabaseUrl();
  assert.ok(other);
  assert.notEqual(new URL(url).pathname, new URL(other).pathname);
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const db = await client.query<{ name: string }>('SELECT current_database() AS name');
    assert.equal(`/${db.rows[0]?.name}`, new URL(url).pathname);
    const tables = await client.query("SELECT 1 FROM pg_tables WHERE schemaname = 'public'");
    assert.equal(tables.rowCount, 0, 'a new database is empty');
    await client.query('CREATE TABLE t (id int PRIMARY KEY, v text NOT NULL)');
    await client.query("INSERT INTO t VALUES (1, 'ゆうびん'), (2, 'b')");
    const rows = await client.query<{ v: string }>('SELECT v FROM t ORDER BY id');
    assert.deepEqual(rows.rows.map((r) => r.v), ['ゆうびん', 'b']);
  } finally {
    await client.end();
  }
});

test('startPostgres starts a private server and stop() ends it', async (t) => {
  if (!(await testDatabaseUrl())) return t.skip('PostgreSQL not installed');
  const server = await startPostgres();
  const client = new pg.Client({ connectionString: server.url });
  await client.connect();
  const su = await client.query<{ su: boolean }>("SELECT current_setting('is_superuser') = 'on' AS su");
  assert.equal(su.rows[0]?.su, true, 'the URL is a superuser URL');
  await client.end();
  await server.stop();
  const after = new pg.Client({ connectionString: server.url });
  await assert.rejects(after.connect(), /ECONNREFUSED/);
});

test('a delivered mailbox is seen over POP3 by a user added while Dovecot runs', async (t) => {
  const bed = await mailbedOrSkip(t);
  if (!bed) return;
  const first = uniqueUser('p');
  await bed.addUser(first, 'first-pw');
  for (let i = 1; i <= 3; i++) await bed.deliver(first, message(`m${i}-${first}`, 'x'.repeat(i * 10)));
  assert.equal(await bed.count(first), 3);
  assert.match(await pop3Stat(bed, first, 'first-pw'), /^\+OK 3 \d+$/);
  // deliveries keep their order: message n is the n-th delivered
  const c = await tcp(bed.ports.pop3);
  try {
    await c.line();
    await c.command(`USER ${first}`);
    await c.command(`PASS first-pw`);
    for (let i = 1; i <= 3; i++) {
      const top = await c.command(`TOP ${i} 0`, (l) => l === '.');
      assert.ok(top.includes(`Subject: m${i}-${first}`), top.join('\n'));
    }
    await c.command('QUIT');
  } finally {
    c.socket.destroy();
  }

  // Dovecot has read its user data now; a second user added later must work at once too
  const second = uniqueUser('q');
  await bed.addUser(second, 'second-pw');
  assert.match(await pop3Stat(bed, second, 'second-pw'), /^\+OK 0 0$/);
  assert.match(await pop3Stat(bed, second, 'wrong'), /^-ERR/);
  await assert.rejects(bed.addUser(second, 'again'), /already exists/);

  await bed.clear(first);
  assert.equal(await bed.count(first), 0);
  await bed.fill(first, 5, 2000);
  assert.equal(await bed.count(first), 5);
  assert.match(await pop3Stat(bed, first, 'first-pw'), /^\+OK 5 \d+$/);
});

test('IMAP STARTTLS and implicit TLS verify against the mailbed CA', async (t) => {
  const bed = await mailbedOrSkip(t);
  if (!bed) return;
  const user = uniqueUser('i');
  await bed.addUser(user, 'imap-pw');
  await bed.deliver(user, message(`imap-${user}`));
  await bed.deliver(user, message(`imap2-${user}`));

  const plain = await tcp(bed.ports.imap);
  assert.match(await plain.line(), /^\* OK .*STARTTLS/);
  assert.match((await plain.command('a STARTTLS', imapTagged('a'))).at(-1) ?? '', /^a OK/);
  const upgraded = await tlsOver({ socket: plain.detach() as Socket, ca: bed.ca });
  assert.equal(upgraded.authorized, true);
  const c = new Lines(upgraded);
  assert.match((await c.command(`b LOGIN ${user} imap-pw`, imapTagged('b'))).at(-1) ?? '', /^b OK/);
  const select = await c.command('c SELECT INBOX', imapTagged('c'));
  assert.ok(select.includes('* 2 EXISTS'), select.join('\n'));
  await c.command('d LOGOUT', imapTagged('d'));
  upgraded.destroy();

  const implicit = await tlsOver({ port: bed.ports.imaps, ca: bed.ca });
  assert.equal(implicit.authorized, true);
  const s = new Lines(implicit);
  assert.match(await s.line(), /^\* OK/);
  await s.command('a LOGOUT', imapTagged('a'));
  implicit.destroy();

  // without the CA the self-signed certificate must be refused: verification is real
  await assert.rejects(tlsOver({ port: bed.ports.imaps }), /self[- ]signed/i);
  assert.equal(bed.caFile.endsWith('.pem') && existsSync(bed.caFile), true);
});

test('waitIdle waits for the user\'s Dovecot sessions to end', async (t) => {
  const bed = await mailbedOrSkip(t);
  if (!bed) return;
  const user = uniqueUser('w');
  await bed.addUser(user, 'idle-pw');
  await bed.waitIdle(user, 100); // no session: at once
  const c = await tcp(bed.ports.imap);
  try {
    await c.line();
    assert.match((await c.command(`a LOGIN ${user} idle-pw`, imapTagged('a'))).at(-1) ?? '', /^a OK/);
    await assert.rejects(bed.waitIdle(user, 300), /still has Dovecot sessions/);
    c.socket.destroy(); // the client vanishes; the session ends on Dovecot's side a little later
    await bed.waitIdle(user);
  } finally {
    c.socket.destroy();
  }
});

test('smtp-sink accepts a message over raw SMTP and dumps it', async (t) => {
  const bed = await mailbedOrSkip(t);
  if (!bed) return;
  const subject = uniqueUser('sink');
  const c = await tcp(bed.ports.smtpSink);
  try {
    assert.match(await c.line(), /^220 /);
    assert.match((await c.command('EHLO client.test', smtpLast)).at(-1) ?? '', /^250 /);
    assert.match((await c.command('MAIL FROM:<a@example.org>')).at(-1) ?? '', /^250 /);
    assert.match((await c.command('RCPT TO:<b@example.org>')).at(-1) ?? '', /^250 /);
    assert.match((await c.command('DATA')).at(-1) ?? '', /^354 /);
    assert.match((await c.command(`${message(subject)}.`)).at(-1) ?? '', /^250 /);
    assert.match((await c.command('QUIT')).at(-1) ?? '', /^221 /);
  } finally {
    c.socket.destroy();
  }
  if (bed.smtpSinkDir) {
    const dumped = await waitFor(async () => {
      for (const f of await readdir(bed.smtpSinkDir as string)) {
        if ((await readFile(join(bed.smtpSinkDir as string, f), 'utf8')).includes(`Subject: ${subject}`)) return f;
      }
      return undefined;
    });
    assert.ok(dumped, 'smtp-sink wrote the message to smtpSinkDir');
  }
});

test('the submit sink verifies AUTH for a user added while it runs', async (t) => {
  const bed = await mailbedOrSkip(t);
  if (!bed) return;
  const user = uniqueUser('s');
  await bed.addUser(user, 'smtp-pw');
  const plain = await tcp(bed.ports.submit);
  assert.match(await plain.line(), /^220 /);
  const ehlo = await plain.command('EHLO client.test', smtpLast);
  assert.ok(ehlo.some((l) => l.includes('STARTTLS')), ehlo.join('\n'));
  assert.match((await plain.command('STARTTLS')).at(-1) ?? '', /^220 /);
  const secure = await tlsOver({ socket: plain.detach() as Socket, ca: bed.ca });
  const c = new Lines(secure);
  try {
    await c.command('EHLO client.test', smtpLast);
    const bad = Buffer.from(`\0${user}\0nope`).toString('base64');
    assert.match((await c.command(`AUTH PLAIN ${bad}`)).at(-1) ?? '', /^535 /);
    const good = Buffer.from(`\0${user}\0smtp-pw`).toString('base64');
    assert.match((await c.command(`AUTH PLAIN ${good}`)).at(-1) ?? '', /^235 /);
    await c.command('MAIL FROM:<a@example.org>');
    await c.command('RCPT TO:<b@example.org>');
    assert.match((await c.command('DATA')).at(-1) ?? '', /^354 /);
    assert.match((await c.command(`${message(`sub-${user}`)}.`)).at(-1) ?? '', /^250 /);
    await c.command('QUIT');
  } finally {
    secure.destroy();
  }
  const envelopes = await Promise.all(
    (await readdir(bed.submitDir)).filter((f) => f.endsWith('.json')).map(async (f) => JSON.parse(await readFile(join(bed.submitDir, f), 'utf8')) as { login: string; tls: boolean }),
  );
  assert.ok(envelopes.some((e) => e.login === user && e.tls), 'the envelope records login and TLS');
});

test('a private mailbed restarts Dovecot and stops without leftovers', async (t) => {
  if (!(await testMailbed())) return t.skip('Dovecot/smtp-sink/aiosmtpd not installed');
  const bed = await startMailbed({ sinkDump: false });
  assert.equal(bed.smtpSinkDir, undefined);
  const user = uniqueUser('r');
  await bed.addUser(user, 'restart-pw');
  await bed.deliver(user, message(`r-${user}`));
  assert.match(await pop3Stat(bed, user, 'restart-pw'), /^\+OK 1 /);
  const pidBefore = (await readFile(join(bed.dir, 'dovecot.pid'), 'utf8')).trim();
  await bed.restartDovecot();
  const pidAfter = (await readFile(join(bed.dir, 'dovecot.pid'), 'utf8')).trim();
  assert.notEqual(pidAfter, pidBefore);
  assert.match(await pop3Stat(bed, user, 'restart-pw'), /^\+OK 1 /);

  const pids = await Promise.all(['dovecot', 'smtp-sink', 'submit-sink'].map(async (n) => Number((await readFile(join(bed.dir, `${n}.pid`), 'utf8')).trim())));
  await bed.stop();
  assert.equal(existsSync(bed.dir), false, 'the folder is removed');
  for (const pid of pids) assert.equal(running(pid), false, `pid ${pid} is gone`);
  await assert.rejects(tcp(bed.ports.pop3), /ECONNREFUSED/);
});

/** Alive and not a zombie (PID 1 may reap our daemons late). */
function running(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) Z /.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

/** Poll until `probe` returns a value (a wait, not a timing assertion). */
async function waitFor<T>(probe: () => Promise<T | undefined>): Promise<T | undefined> {
  for (let i = 0; i < 100; i++) {
    const v = await probe();
    if (v !== undefined) return v;
    await new Promise((r) => setTimeout(r, 50));
  }
  return undefined;
}
