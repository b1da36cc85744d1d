// GET /setup?token=…: the one-time first-run page `yubin serve` prints when no
// administrator exists. A plain form until the web UI takes this over.
import type { FastifyPluginAsync } from 'fastify';

const PAGE = `<!doctype html>
<html lang="ja"><head><meta charset="utf-8"><title>Yubin 初期設定 / Setup</title>
<style>body{font-family:system-ui,sans-serif;max-width:28rem;margin:3rem auto}label{display:block;margin:.8rem 0}input{width:100%;padding:.4rem}#msg{color:#b00}</style>
</head><body>
<h1>Yubin 初期設定</h1>
<p>最初の管理者を作成します。 / Create the first administrator.</p>
<form id="f">
<label>ユーザー名 / User name <input name="username" autocomplete="username" required></label>
<label>パスワード (8文字以上) / Password (8+ characters) <input name="password" type="password" autocomplete="new-password" minlength="8" required></label>
<button type="submit">作成する / Create</button>
</form>
<p id="msg" role="alert"></p>
<script src="/setup.js"></script>
</body></html>`;

const SCRIPT = `document.getElementById('f').addEventListener('submit', async (e) => {
  e.preventDefault();
  const f = new FormData(e.target);
  const token = new URLSearchParams(location.search).get('token') || '';
  const res = await fetch('/api/auth/setup', { method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ token, username: f.get('username'), password: f.get('password') }) });
  const body = await res.json();
  if (res.ok) { document.getElementById('msg').style.color = '#070'; document.getElementById('msg').textContent = '完了しました / Done: ' + body.username; }
  else document.getElementById('msg').textContent = body.error.message + (body.error.fields ? ' ' + body.error.fields.map((x) => x.message).join(' ') : '');
});`;

export const setupPage: FastifyPluginAsync = async (app) => {
  app.get('/setup', { schema: { hide: true } }, async (_req, reply) => reply.type('text/html; charset=utf-8').send(PAGE));
  app.get('/setup.js', { schema: { hide: true } }, async (_req, reply) => reply.type('text/javascript; charset=utf-8').send(SCRIPT));
};
