// Interop: Postfix's smtp-sink (a real SMTP server implementation, not ours) takes 20 mails
// over one SmtpSession. Skipped when the binary is missing, except in CI (CI=true) where that
// is a failure.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { composeMail } from '../../../src/mail/compose.ts';
import { SmtpSession } from '../../../src/protocols/smtp/smtp-client.ts';
import { freePort } from './smtp-test-servers.ts';

const SMTP_SINK = '/usr/sbin/smtp-sink';

async function waitForPort(port: number): Promise<void> {
  for (let i = 0; i < 100; i++) {
    const open = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, '127.0.0.1');
      s.once('connect', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (open) return;
    await sleep(50);
  }
  throw new Error(`smtp-sink did not listen on ${port}`);
}

test('smtp-sink accepts 20 mails sent over one SmtpSession', async (t) => {
  if (!existsSync(SMTP_SINK)) {
    if (process.env.CI === 'true') assert.fail(`${SMTP_SINK} is missing (install postfix)`);
    t.skip(`${SMTP_SINK} is missing`);
    return;
  }
  const dir = mkdtempSync(join(tmpdir(), 'yubin-smtp-sink-'));
  chmodSync(dir, 0o777); // smtp-sink drops to `nobody` when started as root and writes there
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const port = await freePort();
  const args = ['-d', join(dir, '%Y%m%d%H%M%S.'), `127.0.0.1:${port}`, '100'];
  if (process.getuid?.() === 0) args.unshift('-u', 'nobody');
  const sink = spawn(SMTP_SINK, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  sink.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  t.after(() => {
    sink.kill();
  });
  await waitForPort(port).catch((err: unknown) => assert.fail(`${String(err)}: ${stderr}`));

  const session = new SmtpSession({
    host: '127.0.0.1',
    port,
    encryption: 'none',
    // smtp-sink advertises AUTH PLAIN LOGIN and accepts anything
    auth: { mechanism: 'PLAIN', user: 'sink', pass: 'sink' },
    maxMessageBytes: 10 * 1024 * 1024,
    name: 'yubin.test',
  });
  t.after(() => session.close());

  const messageIds: string[] = [];
  const raws: Buffer[] = [];
  for (let i = 1; i <= 20; i++) {
    const mail = await composeMail({
      from: { name: '郵便 送信係', address: 'sender@example.com' },
      to: [`rcpt${i}@example.net`],
      subject: `お知らせ ${i}：①㈱の件`,
      text: `山田様\n\n${i} 通目のお知らせです。\n`,
      charset: i % 2 === 0 ? 'iso-2022-jp' : 'utf-8',
    });
    const result = await session.send(mail.envelope, mail.raw);
    assert.equal(result.sent, true, `mail ${i}`);
    assert.deepEqual(result.accepted.map((r) => [r.address, r.outcome, r.code]), [[`rcpt${i}@example.net`, 'sent', 250]]);
    assert.deepEqual(result.rejected, []);
    messageIds.push(mail.messageId);
    raws.push(mail.raw);
  }
  await session.quit();

  // every transaction dumped once, with the exact message bytes (LF line ends in the dump)
  let files: string[] = [];
  for (let i = 0; i < 100 && files.length < 20; i++) {
    files = readdirSync(dir);
    if (files.length < 20) await sleep(50);
  }
  assert.equal(files.length, 20);
  const dumps = files.map((f) => readFileSync(join(dir, f)));
  messageIds.forEach((id, i) => {
    const dump = dumps.find((d) => d.includes(id));
    assert.ok(dump, `no dump holds ${id}`);
    assert.ok(dump.includes(Buffer.from(raws[i]!.toString('latin1').replace(/\r\n/g, '\n'), 'latin1')), `dump of ${id} differs from what was sent`);
  });
});
