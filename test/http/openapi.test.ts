// The public surface that needs no sign-in: the OpenAPI document, its browsable
// docs, and the health checks.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { call, harness, type Json } from './helpers.ts';

test('GET /api/openapi.json is the OpenAPI document of the API', async (t) => {
  const h = await harness(t);
  if (!h) return;
  const res = await call(h.app, { url: '/api/openapi.json' });
  assert.equal(res.status, 200, res.raw);
  assert.match(String(res.headers['content-type']), /application\/json/);
  const doc = JSON.parse(res.raw) as Json;
  assert.match(doc.openapi, /^3\./);
  assert.equal(typeof doc.info?.title, 'string');
  const expected: Record<string, string[]> = {
    '/api/v1/mail-servers': ['get', 'post'],
    '/api/v1/mail-servers/order': ['put'],
    '/api/v1/mail-servers/{id}': ['get', 'patch', 'delete'],
    '/api/v1/mail-accounts': ['get', 'post'],
    '/api/v1/mail-accounts/{id}': ['get', 'patch', 'delete'],
    '/api/v1/audit-log': ['get'],
  };
  for (const [path, methods] of Object.entries(expected)) {
    assert.ok(doc.paths[path], `no ${path} in ${Object.keys(doc.paths)}`);
    for (const m of methods) assert.ok(doc.paths[path][m], `no ${m.toUpperCase()} ${path}`);
  }
  // the request bodies are documented from the same schemas that validate them
  const postServer = doc.paths['/api/v1/mail-servers'].post;
  const body = JSON.stringify(postServer.requestBody);
  for (const field of ['name', 'incoming', 'outgoing', 'maxMessageBytes', 'perMinuteLimit']) assert.ok(body.includes(field), `${field} not documented`);
  assert.ok(postServer.responses['201'], 'no 201 response documented');
  assert.ok(postServer.responses['400'], 'no 400 response documented');
  const account = JSON.stringify(doc.paths['/api/v1/mail-accounts'].post.requestBody);
  for (const field of ['serverId', 'address', 'password', 'leaveOnServer', 'receiveIntervalMinutes']) assert.ok(account.includes(field), `${field} not documented`);
  // both ways to authenticate are described
  assert.ok(doc.components?.securitySchemes?.bearer);
  assert.ok(doc.components?.securitySchemes?.session);
  assert.ok(Array.isArray(doc.security) && doc.security.length > 0);
  // passwords are write-only: the response schema of an account has no password
  const accountResponse = JSON.stringify(doc.paths['/api/v1/mail-accounts/{id}'].get.responses['200']);
  assert.ok(accountResponse.includes('hasPassword'));
  assert.ok(!/"password"/.test(accountResponse), 'a password field in the account response schema');
});

test('GET /api/docs answers without sign-in', async (t) => {
  const h = await harness(t);
  if (!h) return;
  const res = await call(h.app, { url: '/api/docs' });
  assert.ok(res.status === 200 || (res.status >= 300 && res.status < 400), `status ${res.status}`);
  const page = res.status === 200 ? res : await call(h.app, { url: new URL(String(res.headers.location), 'http://localhost/api/docs').pathname });
  assert.equal(page.status, 200);
  assert.match(page.raw, /swagger/i);
});

test('GET /healthz and /readyz answer without sign-in', async (t) => {
  const h = await harness(t);
  if (!h) return;
  const health = await call(h.app, { url: '/healthz' });
  assert.equal(health.status, 200);
  assert.deepEqual(health.json, { status: 'ok' });
  const ready = await call(h.app, { url: '/readyz' });
  assert.equal(ready.status, 200, ready.raw);
  assert.deepEqual(ready.json, { status: 'ready' });
});

test('an unknown URL is a 404 in the error shape', async (t) => {
  const h = await harness(t);
  if (!h) return;
  const res = await call(h.app, { url: '/api/v1/no-such-thing', headers: h.auth });
  assert.equal(res.status, 404);
  assert.equal(res.json.error.code, 'NOT_FOUND');
  const en = await call(h.app, { url: '/nope', lang: 'en' });
  assert.equal(en.status, 404);
  assert.match(en.json.error.message, /no such url/i);
});
