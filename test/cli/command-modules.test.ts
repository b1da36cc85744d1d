// main.ts loads only the module of the command being run (MODULES). A command a module adds
// but MODULES does not name would still work (every module is loaded for an unknown name), but
// a name listed for the wrong module would make that command unknown: both are checked here.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Command } from 'commander';
import { buildProgram, MODULES } from '../../src/cli/main.ts';

test('each command module adds exactly the top-level commands main.ts names for it', async () => {
  for (const m of MODULES) {
    const program = new Command('yubin');
    (await m.load())(program);
    assert.deepEqual(
      program.commands.map((c) => c.name()).sort(),
      [...m.names].sort(),
    );
  }
});

test('a named command builds a program with its own module only; help and unknown names get every command', async () => {
  const all = (await buildProgram(['--help'])).commands.map((c) => c.name());
  assert.deepEqual(all.sort(), MODULES.flatMap((m) => m.names).sort());
  assert.deepEqual((await buildProgram(['server', 'list'])).commands.map((c) => c.name()), ['server']);
  assert.deepEqual((await buildProgram(['restore', 'x'])).commands.map((c) => c.name()).sort(), ['backup', 'restore']);
  assert.equal((await buildProgram(['sever'])).commands.length, all.length);
  assert.equal((await buildProgram(['help', 'send'])).commands.length, all.length);
  assert.equal((await buildProgram(['--version'])).commands.length, 0);
});
