// Real mail servers for interop tests, on 127.0.0.1 only: Dovecot 2.3 (POP3 + STLS, POP3S,
// IMAP + STARTTLS, IMAPS, APOP, CRAM-MD5), Postfix's smtp-sink (fast SMTP sink: no TLS, fake
// AUTH) and submit_sink.py (aiosmtpd: STARTTLS / implicit TLS with real AUTH, keeps every
// message). All of it is run by test/support/mailbed/mailbed.sh from a short folder under
// /tmp (unix-socket paths are limited to ~100 bytes).
//
// startMailbed() starts a private one (needed for restartDovecot()); testMailbed() returns the
// one shared by the whole `npm test` run (YUBIN_TEST_MAILBED_DIR, see global-servers.ts) or
// one started for this process. Test files run in parallel, so each test adds its own users
// with addUser() instead of using alice/bob/carol. As root, mail belongs to the system user
// "mailbed" because Dovecot refuses mail access as UID 0 (mailbed.sh creates it).
import { execFile, execFileSync, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { appendFile, chown, mkdir, mkdtemp, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

export const MAILBED_DIR_ENV = 'YUBIN_TEST_MAILBED_DIR';
const SCRIPT = fileURLToPath(new URL('./mailbed/mailbed.sh', import.meta.url));
const DOVECOT = '/usr/sbin/dovecot';
const DOVEADM = '/usr/bin/doveadm';
const SMTP_SINK = '/usr/sbin/smtp-sink';
const PYTHON = '/usr/bin/python3';
const INFO_FILE = 'yubin-mailbed.json';
/** mailbed.sh's ports are BASE + the well-known port; kept below the kernel's ephemeral range. */
const PORT_BASE_MIN = 12_000;
const PORT_BASE_MAX = 31_700;
const PORT_OFFSETS = { pop3: 110, pop3s: 995, imap: 143, imaps: 993, smtpSink: 25, submit: 587, smtps: 465 } as const;
const START_ATTEMPTS = 4;
const SCRIPT_TIMEOUT = 60_000;

const run = promisify(execFile);

export interface MailbedPorts {
  pop3: number;
  pop3s: number;
  imap: number;
  imaps: number;
  /** Postfix smtp-sink: no TLS, answers AUTH with 250 (fake). */
  smtpSink: number;
  /** submit_sink.py, SMTP + STARTTLS, real AUTH PLAIN/LOGIN/CRAM-MD5 (optional). */
  submit: number;
  /** submit_sink.py, implicit TLS. */
  smtps: number;
}

export interface Mailbed {
  host: '127.0.0.1';
  ports: MailbedPorts;
  /** Self-signed certificate (SAN localhost and 127.0.0.1) that is its own CA. */
  caFile: string;
  ca: Buffer;
  /** The mailbed's folder: dovecot.log, smtp-sink.log, submit-sink.log, mail/USER/Maildir. */
  dir: string;
  /** smtp-sink writes each transaction here (file per message) when dumping is on. */
  smtpSinkDir: string | undefined;
  /** submit_sink.py writes each message here as <seq>.eml plus <seq>.json (envelope, login, tls). */
  submitDir: string;
  /** True for testMailbed()'s instance: stop() does nothing and restartDovecot() throws. */
  shared: boolean;
  /** Create a POP3/IMAP/SMTP-AUTH user; usable at once, no restart. Throws if it exists. */
  addUser(name: string, password: string): Promise<void>;
  /** Put one message into the user's Maildir/new atomically (tmp + rename). */
  deliver(user: string, raw: Buffer | string): Promise<void>;
  /** Append n varied messages of about `size` bytes (ISO-2022-JP, Shift_JIS, multipart, ...). */
  fill(user: string, n: number, size: number): Promise<void>;
  /** Empty the user's Maildir, Dovecot's index files included. */
  clear(user: string): Promise<void>;
  /** Messages now in the user's Maildir (new + cur). */
  count(user: string): Promise<number>;
  /**
   * Wait until Dovecot has no POP3/IMAP session of the user (`doveadm who`). A session whose
   * client just vanished can still write the user's index files while it closes.
   */
  waitIdle(user: string, timeoutMs?: number): Promise<void>;
  /** Kill Dovecot (SIGKILL, like a crash) and start it again on the same ports and mail. */
  restartDovecot(): Promise<void>;
  stop(): Promise<void>;
}

export interface StartMailbedOptions {
  /** smtp-sink keeps every message in smtpSinkDir (default true). */
  sinkDump?: boolean;
  /** Also accept AUTH XOAUTH2/OAUTHBEARER, checking tokens at this RFC 7662 introspection URL. */
  oauth2IntrospectionUrl?: string;
  /** Start submit_sink.py (default true); false saves its start-up when a test needs none. */
  submit?: boolean;
}

interface MailbedInfo {
  ports: MailbedPorts;
  sinkDump: boolean;
}

/** Thrown when Dovecot, smtp-sink or python3-aiosmtpd is missing. */
export class MailbedUnavailableError extends Error {}

function isCI(): boolean {
  return process.env.CI === 'true' || process.env.CI === '1';
}

/** Why the mailbed cannot run here, or undefined when everything is installed. */
export function mailbedMissing(): string | undefined {
  if (!existsSync(DOVECOT)) return `Dovecot not installed (no ${DOVECOT})`;
  if (!existsSync(SMTP_SINK)) return `smtp-sink not installed (no ${SMTP_SINK}, package postfix)`;
  try {
    execFileSync(PYTHON, ['-c', 'import aiosmtpd'], { stdio: 'ignore' });
  } catch {
    return `python3-aiosmtpd not installed (${PYTHON} -c 'import aiosmtpd' failed)`;
  }
  return undefined;
}

function scriptEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  // a developer's shell may hold MAILBED_*_PORT from `eval "$(mailbed.sh env ...)"`
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('MAILBED_')) env[k] = v;
  return { ...env, ...extra };
}

async function script(args: string[], extraEnv: Record<string, string> = {}): Promise<string> {
  const { stdout } = await run('bash', [SCRIPT, ...args], { env: scriptEnv(extraEnv), timeout: SCRIPT_TIMEOUT });
  return stdout;
}

async function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

function portsFor(base: number): MailbedPorts {
  return {
    pop3: base + PORT_OFFSETS.pop3,
    pop3s: base + PORT_OFFSETS.pop3s,
    imap: base + PORT_OFFSETS.imap,
    imaps: base + PORT_OFFSETS.imaps,
    smtpSink: base + PORT_OFFSETS.smtpSink,
    submit: base + PORT_OFFSETS.submit,
    smtps: base + PORT_OFFSETS.smtps,
  };
}

/** A random base whose seven ports are all free right now. */
async function pickPortBase(): Promise<number> {
  for (let i = 0; i < 50; i++) {
    const base = PORT_BASE_MIN + Math.floor(Math.random() * (PORT_BASE_MAX - PORT_BASE_MIN));
    const free = await Promise.all(Object.values(portsFor(base)).map(portFree));
    if (free.every(Boolean)) return base;
  }
  throw new Error('mailbed: no free port base found on 127.0.0.1');
}

function shellQuote(s: string): string {
  return `'${s.replaceAll("'", `'\\''`)}'`;
}

/**
 * A detached shell that waits for EOF on a pipe only we hold: if this process dies (even by
 * SIGKILL) the pipe closes and the shell runs `cleanup`; a normal stop writes a line first.
 */
function startReaper(cleanup: string): ChildProcess {
  const child = spawn('sh', ['-c', `if read -r _; then exit 0; fi; ${cleanup}`], {
    detached: true,
    stdio: ['pipe', 'ignore', 'ignore'],
  });
  child.unref();
  (child.stdin as unknown as { unref?: () => void } | null)?.unref?.();
  return child;
}

const USER_NAME = /^[A-Za-z0-9][A-Za-z0-9._+@-]*$/;
let deliverySeq = 0;

function mailbedHandle(dir: string, info: MailbedInfo, ca: Buffer, shared: boolean, owner?: { stop(): Promise<void> }): Mailbed {
  const mailDir = join(dir, 'mail');
  const maildir = (user: string): string => {
    if (!USER_NAME.test(user)) throw new Error(`mailbed: bad user name ${JSON.stringify(user)}`);
    return join(mailDir, user, 'Maildir');
  };
  // the OS user that owns the mail (mailbed.sh chowns DIR/mail to it)
  const mailOwner = async (): Promise<{ uid: number; gid: number }> => {
    const st = await stat(mailDir);
    return { uid: st.uid, gid: st.gid };
  };
  const requireMaildir = (user: string): string => {
    const md = maildir(user);
    if (!existsSync(join(md, 'new'))) throw new Error(`mailbed: no such user ${user} (call addUser first)`);
    return md;
  };

  return {
    host: '127.0.0.1',
    ports: info.ports,
    caFile: join(dir, 'ssl', 'ca.pem'),
    ca,
    dir,
    smtpSinkDir: info.sinkDump ? join(dir, 'sink') : undefined,
    submitDir: join(dir, 'smtp-out'),
    shared,

    async addUser(name, password) {
      const md = maildir(name);
      if (/[:\r\n]/.test(password)) throw new Error('mailbed: a password cannot hold ":" or line breaks');
      const userFile = join(dir, 'users', name);
      if (existsSync(userFile)) throw new Error(`mailbed: user ${name} already exists`);
      const { uid, gid } = await mailOwner();
      const home = join(mailDir, name);
      for (const d of [home, md, join(md, 'new'), join(md, 'cur'), join(md, 'tmp')]) {
        await mkdir(d, { recursive: true });
        await chown(d, uid, gid);
      }
      const line = `${name}:{PLAIN}${password}:${uid}:${gid}::${home}::\n`;
      // Dovecot reads users/NAME (a new file is seen at once, see mailbed.sh); rename keeps
      // a half-written file out of its sight. submit_sink.py re-reads passwd when it changes.
      const tmp = join(dir, 'users', `.${name}.${process.pid}.tmp`);
      await writeFile(tmp, line, { mode: 0o644 });
      await rename(tmp, userFile);
      await appendFile(join(dir, 'passwd'), line);
    },

    async deliver(user, raw) {
      const md = requireMaildir(user);
      const data = typeof raw === 'string' ? Buffer.from(raw) : raw;
      const { uid, gid } = await mailOwner();
      // Dovecot gives new mail UIDs in file-name order: seconds, then our zero-padded sequence
      const seq = String(++deliverySeq).padStart(6, '0');
      const rand = Math.random().toString(36).slice(2, 8);
      const name = `${Math.floor(Date.now() / 1000)}.M${seq}P${process.pid}R${rand}.yubin,S=${data.length}`;
      const tmp = join(md, 'tmp', name);
      await writeFile(tmp, data, { flag: 'wx', mode: 0o600 });
      await chown(tmp, uid, gid);
      await rename(tmp, join(md, 'new', name));
    },

    async fill(user, n, size) {
      requireMaildir(user);
      await script(['fill', dir, user, String(n), String(size)]);
    },

    async clear(user) {
      requireMaildir(user);
      await script(['clear', dir, user]);
    },

    async count(user) {
      const md = requireMaildir(user);
      let total = 0;
      for (const sub of ['new', 'cur']) {
        total += (await readdir(join(md, sub))).filter((f) => !f.startsWith('.')).length;
      }
      return total;
    },

    async waitIdle(user, timeoutMs = 10_000) {
      requireMaildir(user);
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const { stdout } = await run(DOVEADM, ['-c', join(dir, 'dovecot.conf'), 'who', '-1', user]);
        const sessions = stdout.split('\n').slice(1).filter((l) => l.trim() !== '');
        if (sessions.length === 0) return;
        if (Date.now() > deadline) throw new Error(`mailbed: ${user} still has Dovecot sessions after ${timeoutMs} ms:\n${stdout}`);
        await new Promise((r) => setTimeout(r, 25));
      }
    },

    async restartDovecot() {
      if (shared) throw new Error('mailbed: restartDovecot() would disturb other tests; use startMailbed() for your own');
      await script(['restart-dovecot', dir]);
    },

    async stop() {
      if (shared || !owner) return;
      await owner.stop();
    },
  };
}

interface OwnedMailbed {
  mailbed: Mailbed;
  /** For process 'exit' handlers, which cannot await. */
  stopSync(): void;
}

async function launch(options: StartMailbedOptions, shared: boolean): Promise<OwnedMailbed> {
  const missing = mailbedMissing();
  if (missing) throw new MailbedUnavailableError(missing);
  const sinkDump = options.sinkDump ?? true;
  const dir = await mkdtemp('/tmp/ymb-');
  const reaper = startReaper(`bash ${shellQuote(SCRIPT)} stop ${shellQuote(dir)} >/dev/null 2>&1; rm -rf ${shellQuote(dir)}`);
  try {
    let ports: MailbedPorts | undefined;
    let lastError = '';
    for (let attempt = 0; attempt < START_ATTEMPTS && !ports; attempt++) {
      const base = await pickPortBase();
      try {
        await script(['start', dir], {
          MAILBED_PORT_BASE: String(base),
          MAILBED_SINK_DUMP: sinkDump ? '1' : '0',
          ...(options.oauth2IntrospectionUrl ? { MAILBED_OAUTH2_INTROSPECTION_URL: options.oauth2IntrospectionUrl } : {}),
          ...(options.submit === false ? { MAILBED_NO_SUBMIT: '1' } : {}),
        });
        ports = portsFor(base);
      } catch (err) {
        // a failed start stops what it started; only a port lost to a race is worth a retry
        lastError = `${String(err)}\n${(err as { stderr?: string }).stderr ?? ''}`;
        if (!/in use/i.test(lastError)) break;
      }
    }
    if (!ports) throw new Error(`mailbed did not start in ${dir}: ${lastError}`);
    const info: MailbedInfo = { ports, sinkDump };
    await writeFile(join(dir, INFO_FILE), JSON.stringify(info));
    const ca = await readFile(join(dir, 'ssl', 'ca.pem'));
    let stopped = false;
    const owner = {
      async stop() {
        if (stopped) return;
        stopped = true;
        try {
          await script(['stop', dir]);
        } finally {
          await rm(dir, { recursive: true, force: true });
          reaper.stdin?.end('done\n');
        }
      },
    };
    return {
      mailbed: mailbedHandle(dir, info, ca, shared, owner),
      stopSync() {
        if (stopped) return;
        stopped = true;
        try {
          execFileSync('bash', [SCRIPT, 'stop', dir], { stdio: 'ignore', env: scriptEnv({}) });
        } finally {
          rmSync(dir, { recursive: true, force: true });
          if (reaper.pid) process.kill(reaper.pid);
        }
      },
    };
  } catch (err) {
    reaper.stdin?.destroy(); // the reaper stops whatever is left and removes the folder
    throw err;
  }
}

/** Start a private mailbed (Dovecot, smtp-sink, submit sink) on free ports. */
export async function startMailbed(options: StartMailbedOptions = {}): Promise<Mailbed> {
  return (await launch(options, false)).mailbed;
}

/** A handle on a mailbed some other process started (its folder holds yubin-mailbed.json). */
export async function attachMailbed(dir: string): Promise<Mailbed> {
  const info = JSON.parse(await readFile(join(dir, INFO_FILE), 'utf8')) as MailbedInfo;
  const ca = await readFile(join(dir, 'ssl', 'ca.pem'));
  return mailbedHandle(dir, info, ca, true);
}

let sharedMailbed: Promise<Mailbed> | undefined;

/**
 * The mailbed for this test process: the `npm test` run's one (YUBIN_TEST_MAILBED_DIR) or
 * one started now and stopped when the process exits. Undefined when Dovecot & co. are not
 * installed (outside CI), so the caller can `t.skip(...)`; with CI=true that is an error.
 */
export async function testMailbed(): Promise<Mailbed | undefined> {
  const envDir = process.env[MAILBED_DIR_ENV];
  if (envDir) {
    sharedMailbed ??= attachMailbed(envDir);
    return sharedMailbed;
  }
  const missing = mailbedMissing();
  if (missing) {
    if (isCI()) throw new MailbedUnavailableError(`CI=true but ${missing}`);
    return undefined;
  }
  sharedMailbed ??= launch({}, true).then((owned) => {
    process.once('exit', () => owned.stopSync());
    return owned.mailbed;
  });
  return sharedMailbed;
}
