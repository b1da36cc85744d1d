// The error mapper's last resort: a client error Fastify (or a plugin) raised that has no code
// of ours keeps its status and code, and its message is a sentence in the request's language
// with the original words as the detail.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { handleError } from '../../src/http/error-mapper.ts';

function answer(err: unknown, lang: string): { status: number; body: { error: { code: string; message: string } } } {
  const out = { status: 0, body: undefined as unknown };
  const reply = {
    status(s: number) {
      out.status = s;
      return this;
    },
    header() {
      return this;
    },
    send(b: unknown) {
      out.body = b;
      return this;
    },
  } as unknown as FastifyReply;
  const req = { headers: { 'accept-language': lang }, log: { info() {}, error() {} } } as unknown as FastifyRequest;
  handleError(err, req, reply);
  return out as { status: number; body: { error: { code: string; message: string } } };
}

test('an unmapped 4xx keeps its status and code; its message is localized, the original words kept as detail', () => {
  const err = Object.assign(new Error('Forbidden'), { statusCode: 403, code: 'FST_SOMETHING' });
  const ja = answer(err, 'ja');
  assert.deepEqual([ja.status, ja.body.error.code, ja.body.error.message], [403, 'FST_SOMETHING', 'リクエストを処理できませんでした（HTTP 403）: Forbidden']);
  const en = answer(err, 'en');
  assert.equal(en.body.error.message, 'The request could not be handled (HTTP 403): Forbidden');
  // anything else stays a 500 whose details go only to the log
  const internal = answer(new TypeError('x is undefined'), 'en');
  assert.equal(internal.status, 500);
  assert.doesNotMatch(internal.body.error.message, /undefined/);
});
