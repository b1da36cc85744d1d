// A character beyond the BMP that is not an emoji (𠮷 U+20BB7 of 𠮷田, 𩸽, CJK Ext. B–G)
// must never be cut in two between two encoded-words: nodemailer 7.0.13 keeps only the
// surrogate pairs of \ud83c–\ud83e together, so the subject and the From name were sent with
// "��" (U+FFFD U+FFFD) in its place — the mail altered, which compose.ts promises never happens.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { simpleParser } from 'mailparser';
import { composeMail } from '../../src/mail/compose.ts';
import { compileBulkMail } from '../../src/send/compose-delivery.ts';

test('a subject with 𠮷 at an encoded-word boundary reads back as written (single send)', async () => {
  const subject = '株式会社ヤマダより𠮷田様へ';
  const m = await composeMail({ from: { address: 'a@example.com' }, to: ['b@example.com'], subject, text: 'x' });
  assert.ok(!m.raw.toString('latin1').includes('77+9'), 'U+FFFD in an encoded-word');
  assert.equal((await simpleParser(m.raw)).subject, subject);
});

test('a From name with 𠮷 at an encoded-word boundary reads back as written', async () => {
  const name = 'おおおおおおおおお𠮷田';
  const m = await composeMail({ from: { name, address: 'a@example.com' }, to: ['b@example.com'], subject: 's', text: 'x' });
  assert.equal((await simpleParser(m.raw)).from?.value[0]?.name, name);
});

test('every position of an astral character in a bulk subject reads back as written', async () => {
  const c = await compileBulkMail({ subject: '{{pad}}{{name}}様へのお知らせ', text: 'x', html: null, charset: 'utf-8' }, { fromName: 'F', address: 'a@example.com' });
  for (let k = 0; k < 24; k++) {
    for (const name of ['𠮷田', '𩸽', '😀', '🏴󠁧󠁢󠁳󠁣󠁴󠁿']) {
      const pad = 'お'.repeat(k);
      const mail = await c.compose('b@example.com', { pad, name }, 'id');
      assert.equal((await simpleParser(mail.raw)).subject, `${pad}${name}様へのお知らせ`, `k=${k} ${name}`);
    }
  }
});
