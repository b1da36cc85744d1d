import { test } from 'node:test';
import assert from 'node:assert/strict';
import { renderTemplate, templateFields } from '../../src/mail/template.ts';

test('fields are replaced, Japanese names and spaces inside the braces included', () => {
  const r = renderTemplate('{{name}}様へのお知らせ（{{ 会社名 }}）', { name: '山田', 会社名: '㈱山田商会' });
  assert.deepEqual(r, { text: '山田様へのお知らせ（㈱山田商会）', missing: [] });
});

test('missing fields become empty and are listed once, in order of use', () => {
  const r = renderTemplate('{{a}} {{b}} {{a}} {{c}}', { c: 'C' });
  assert.deepEqual(r, { text: '   C', missing: ['a', 'b'] });
});

test('an empty value is present, not missing', () => {
  assert.deepEqual(renderTemplate('[{{x}}]', { x: '' }), { text: '[]', missing: [] });
});

test('values are not expanded again', () => {
  const r = renderTemplate('{{a}}', { a: '{{b}}', b: 'nope' });
  assert.deepEqual(r, { text: '{{b}}', missing: [] });
});

test('inherited properties are not fields', () => {
  const r = renderTemplate('{{constructor}}{{toString}}{{__proto__}}', {});
  assert.deepEqual(r, { text: '', missing: ['constructor', 'toString', '__proto__'] });
});

test('text that only looks like a field is left alone', () => {
  const t = '{name} {{ }} {{a b}} {{{x}}} 料金は{{単価}}円';
  const r = renderTemplate(t, { x: 'X', 単価: '1,000' });
  assert.equal(r.text, '{name} {{ }} {{a b}} {X} 料金は1,000円');
  assert.deepEqual(r.missing, []);
});

test('escapeHtml escapes values but not the template', () => {
  const r = renderTemplate('<p>{{name}}</p>', { name: '<b>"Tom" & \'Jerry\'</b>' }, { escapeHtml: true });
  assert.equal(r.text, '<p>&#60;b&#62;&#34;Tom&#34; &#38; &#39;Jerry&#39;&#60;/b&#62;</p>');
});

test('templateFields lists the fields a template uses', () => {
  assert.deepEqual(templateFields('{{name}}様 {{ 会社名 }} {{name}}'), ['name', '会社名']);
});
