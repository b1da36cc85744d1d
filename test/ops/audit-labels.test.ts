// Every action the audit log records has its words in the web UI (監査ログ) and in the CLI
// (`yubin audit`), in Japanese and English: without them the page and the CLI showed the
// raw code (bulk_delivery.pause, settings.notifications did). The actions are the list in
// src/store/audit-log.ts; a scan of the sources keeps that list complete.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { ja as cliJa } from '../../src/i18n/ja.ts';
import { en as cliEn } from '../../src/i18n/en.ts';
import { AUDIT_ACTIONS } from '../../src/store/audit-log.ts';
import { ja as uiJa } from '../../web/src/i18n/ja.ts';
import { en as uiEn } from '../../web/src/i18n/en.ts';

test('every audit action has a label in the UI and the CLI, in Japanese and English', () => {
  for (const action of AUDIT_ACTIONS) {
    for (const [name, catalogue] of [
      ['web ja', uiJa],
      ['web en', uiEn],
    ] as const) {
      assert.equal(typeof (catalogue as Record<string, string>)[`audit.action.${action}`], 'string', `${name}: audit.action.${action}`);
    }
    for (const [name, catalogue] of [
      ['cli ja', cliJa.messages],
      ['cli en', cliEn.messages],
    ] as const) {
      assert.equal(typeof (catalogue as Record<string, string>)[`cli.audit.action.${action}`], 'string', `${name}: cli.audit.action.${action}`);
    }
  }
});

test('the list holds every action the sources record', () => {
  const found = new Set<string>();
  const walk = (dir: string): void => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, e.name);
      if (e.isDirectory()) walk(path);
      else if (e.name.endsWith('.ts')) {
        const text = readFileSync(path, 'utf8');
        if (!text.includes('audit.append(')) continue;
        for (const m of text.matchAll(/\baction: '([a-z_]+\.[a-z_]+)'/g)) found.add(m[1]!);
        // bulk-service.ts: `bulk_delivery.${action}` for its pause, resume and cancel
        if (text.includes('action: `bulk_delivery.${action}`')) for (const a of ['pause', 'resume', 'cancel']) found.add(`bulk_delivery.${a}`);
      }
    }
  };
  walk(join(import.meta.dirname, '../../src'));
  assert.ok(found.size >= 15, `the scan found too little: ${[...found].join(', ')}`);
  assert.deepEqual([...found].filter((a) => !(AUDIT_ACTIONS as readonly string[]).includes(a)), []);
});
