// GET /api/v1/messages/:id/attachments/:index: the decoded attachment as a download.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildApp } from '../../src/http/app.ts';
import { extractMetadata } from '../../src/mail/metadata.ts';
import { AuthService } from '../../src/services/auth.ts';
import { MailAccountService } from '../../src/services/mail-accounts.ts';
import { MailServerService } from '../../src/services/mail-servers.ts';
import { contextFor } from '../support/app-context.ts';

test('an attachment downloads decoded, with its Japanese file name, never inline', async (t) => {
  const ctx = await contextFor(t, 'sqlite');
  if (!ctx) return;
  const server = await new MailServerService(ctx).add('t', { name: 's', incoming: { protocol: 'pop3', host: 'pop.example.com' }, outgoing: { host: 'smtp.example.com' } });
  const acc = await new MailAccountService(ctx).add('t', { displayName: 'a', serverId: server.id, address: 'a@example.com', username: 'a', password: 'pw' });
  const pdf = Buffer.from('%PDF-1.4 fake \x00\x01\x02 bytes', 'latin1');
  const raw = Buffer.from(
    'From: a@example.com\r\nSubject: att\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="b"\r\n\r\n' +
      '--b\r\nContent-Type: text/plain\r\n\r\nsee attached\r\n' +
      `--b\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; filename*=UTF-8''%E8%A6%8B%E7%A9%8D.pdf\r\nContent-Transfer-Encoding: base64\r\n\r\n${pdf.toString('base64')}\r\n` +
      '--b\r\nContent-Type: text/html\r\nContent-Disposition: attachment; filename="x.html"\r\n\r\n<script>alert(1)</script>\r\n--b--\r\n',
  );
  const [stored] = await ctx.repos.messages.storeBatch(acc.id, [{ uid: '1', chunks: [raw], meta: extractMetadata(raw) }], new Date().toISOString());
  const app = await buildApp(ctx);
  t.after(() => app.close());
  const h = { authorization: `Bearer ${await new AuthService(ctx).createToken('t')}` };
  const one = (await app.inject({ method: 'GET', url: `/api/v1/messages/${stored!.messageId}`, headers: h })).json();
  assert.deepEqual(one.decoded.attachments.map((a: { filename: string }) => a.filename), ['見積.pdf', 'x.html']);
  const r = await app.inject({ method: 'GET', url: `/api/v1/messages/${stored!.messageId}/attachments/0`, headers: h });
  assert.equal(r.statusCode, 200);
  assert.deepEqual(r.rawPayload, pdf);
  assert.equal(r.headers['content-type'], 'application/pdf');
  assert.match(String(r.headers['content-disposition']), /^attachment; .*filename\*=UTF-8''%E8%A6%8B%E7%A9%8D\.pdf/);
  const html = await app.inject({ method: 'GET', url: `/api/v1/messages/${stored!.messageId}/attachments/1`, headers: h });
  assert.match(String(html.headers['content-disposition']), /^attachment/);
  assert.equal(html.headers['x-content-type-options'], 'nosniff');
  assert.equal((await app.inject({ method: 'GET', url: `/api/v1/messages/${stored!.messageId}/attachments/5`, headers: h })).statusCode, 404);
  assert.equal((await app.inject({ method: 'GET', url: `/api/v1/messages/${stored!.messageId}/attachments/x`, headers: h })).statusCode, 400);
});
