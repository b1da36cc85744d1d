// `npm test`: the whole suite. Starts the real servers the suites share (PostgreSQL,
// Dovecot, smtp-sink — see test/support/global-servers.ts) once, passes their
// addresses to every test file through the environment, runs `node --test` over
// test/**/*.test.ts (or the files/folders given as arguments), then stops them. The CLI
// the tests run as a child process is bundled first from src/ as bin/yubin.js runs it
// (scripts/build-cli.ts, into .tmp/test-cli-PID; test/support/cli.ts).
import { spawn } from 'node:child_process';
import { readdirSync, rmSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { buildCli, ROOT } from './build-cli.ts';
import { startGlobalServers } from '../test/support/global-servers.ts';

function collect(path: string, out: string[]): void {
  const st = statSync(path);
  if (st.isDirectory()) {
    for (const name of readdirSync(path).sort()) collect(join(path, name), out);
  } else if (path.endsWith('.test.ts')) {
    out.push(path);
  }
}

/** No test file may run longer than this (ms). */
const FILE_TIMEOUT_MS = 10 * 60 * 1000;

const args = process.argv.slice(2);
const files: string[] = [];
for (const a of args.length ? args : ['test']) collect(a, files);
if (files.length === 0) {
  console.error('no test files found');
  process.exit(1);
}

// per run: two runs in one checkout must not bundle over each other's
const cliDir = join(ROOT, '.tmp', `test-cli-${process.pid}`);
const cli = await buildCli(cliDir);
const servers = await startGlobalServers();
let code = 1;
try {
  code = await new Promise<number>((resolve) => {
    const child = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        '--test',
        `--test-concurrency=${process.env.YUBIN_TEST_CONCURRENCY ?? '2'}`,
        // a test file that hangs fails after this, with its output, instead of holding CI for
        // its 90 minutes (the longest file takes ~2 min on CI's 2 cores)
        `--test-timeout=${FILE_TIMEOUT_MS}`,
        ...files.map((f) => relative(process.cwd(), f)),
      ],
      { stdio: 'inherit', env: { ...process.env, ...servers.env, YUBIN_TEST_CLI: cli } },
    );
    child.on('exit', (c, signal) => resolve(c ?? (signal ? 1 : 0)));
  });
} finally {
  await servers.stop();
  rmSync(cliDir, { recursive: true, force: true });
}
process.exit(code);
