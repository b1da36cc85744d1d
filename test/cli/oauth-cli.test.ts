// yubin oauth set|show|list: the same validation and store as the API; the secret comes
// from stdin and is never printed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../support/cli.ts';

test('oauth set saves the client with the secret from stdin; bad input exits 2 naming the field', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'yubin-cli-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const env = { YUBIN_DATA_DIR: dir, LANG: 'ja_JP.UTF-8', YUBIN_LANG: undefined };

  const set = await runCli(['oauth', 'set', 'exchange_online', '--client-id', 'app-1', '--client-secret-stdin', '--tenant', 'contoso.onmicrosoft.com', '--json'], { env, input: 'cli-s3cret\n' });
  assert.equal(set.code, 0, set.stderr);
  const saved = JSON.parse(set.stdout);
  assert.equal(saved.hasClientSecret, true);
  assert.equal(saved.endpoints.token, 'https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token');
  assert.ok(!set.stdout.includes('cli-s3cret'));

  const list = await runCli(['oauth', 'list', '--json'], { env });
  assert.deepEqual(
    JSON.parse(list.stdout).items.map((p: { preset: string; configured: boolean }) => [p.preset, p.configured]),
    [
      ['gmail', false],
      ['exchange_online', true],
    ],
  );

  const bad = await runCli(['oauth', 'set', 'exchange_online', '--client-id', 'app-1', '--tenant', 'not a tenant'], { env });
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /テナント（Microsoft Entra）/);
  // a secret and its removal at once: refused before anything is read or stored
  const both = await runCli(['oauth', 'set', 'exchange_online', '--client-id', 'app-2', '--client-secret-stdin', '--remove-client-secret'], { env, input: 'other-secret\n' });
  assert.equal(both.code, 2, both.stderr);
  assert.match(both.stderr, /^yubin: --remove-client-secret と --client-secret-stdin は同時に指定できません。/);
  const show = await runCli(['oauth', 'show', 'exchange_online', '--json'], { env });
  assert.equal(JSON.parse(show.stdout).tenant, 'contoso.onmicrosoft.com', 'nothing stored by the bad ones');
  assert.equal(JSON.parse(show.stdout).clientId, 'app-1');
});
