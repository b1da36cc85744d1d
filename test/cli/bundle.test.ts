// The `yubin` command runs as a bundle (scripts/build-cli.ts) so that a command does not load
// ~1,000 small module files. What is checked here is what the bundle is for, by counting the
// files Node.js loads for `yubin server list` (a loader hook writes each one down), not by
// timing it: TypeBox and Kysely come from the bundle, only this command's chunks are loaded,
// and the packages that stay outside (better-sqlite3, commander…) are loaded from node_modules.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { cliArgs, cliMain, ROOT } from '../support/cli.ts';

test('yubin server list loads its own chunks and a handful of packages, not TypeBox’s and Kysely’s module files', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'yubin-bundle-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const list = join(dir, 'loaded.txt');
  writeFileSync(join(dir, 'hook.mjs'), `import { appendFileSync } from 'node:fs';\nexport async function load(url, context, next) {\n  if (url.startsWith('file:')) appendFileSync(${JSON.stringify(list)}, url + '\\n');\n  return next(url, context);\n}\n`);
  writeFileSync(join(dir, 'register.mjs'), `import { register } from 'node:module';\nregister(${JSON.stringify(pathToFileURL(join(dir, 'hook.mjs')).href)});\n`);
  writeFileSync(list, '');

  const r = spawnSync(process.execPath, ['--import', pathToFileURL(join(dir, 'register.mjs')).href, ...cliArgs(['server', 'list', '--json'])], {
    cwd: ROOT,
    env: { ...process.env, YUBIN_DATA_DIR: join(dir, 'data'), YUBIN_LOG_LEVEL: 'silent' },
    encoding: 'utf8',
  });
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(
    (JSON.parse(r.stdout) as { items: { name: string }[] }).items.map((s) => s.name),
    ['Gmail', 'Exchange Online'],
    'the presets, from a database the bundle migrated',
  );

  const loaded = readFileSync(list, 'utf8').trim().split('\n');
  const bundleDir = pathToFileURL(join(cliMain(), '..')).href;
  const ours = loaded.filter((u) => u.startsWith(bundleDir));
  const packages = loaded.filter((u) => u.includes('/node_modules/'));
  assert.ok(ours.length >= 2, `main.js and the server command's chunk: ${ours.join(' ')}`);
  assert.deepEqual(
    packages.filter((u) => /\/node_modules\/(typebox|kysely)\//.test(u)),
    [],
    'TypeBox and Kysely are in the bundle',
  );
  assert.ok(
    packages.some((u) => u.includes('/node_modules/better-sqlite3/')),
    'a native package stays outside the bundle',
  );
  // ~35 now (ES modules only: what packages require() is not listed); before the bundle this
  // command loaded ~1,000 (683 of TypeBox, 263 of Kysely)
  assert.ok(loaded.length < 100, `${loaded.length} files loaded:\n${loaded.join('\n')}`);
});
