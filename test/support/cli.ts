// Run the real `yubin` CLI in a child process: the bundle that bin/yubin.js runs
// (scripts/build-cli.ts), built from the src/ under test. `npm test` builds it once
// (YUBIN_TEST_CLI); a test file run on its own builds its own on first use.
import { spawn, spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { pathToFileURL, fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));

let built: string | undefined;
/** The bundled CLI's main.js. */
export function cliMain(): string {
  if (process.env.YUBIN_TEST_CLI) return process.env.YUBIN_TEST_CLI;
  if (built) return built;
  // two folders below the root, like dist/yubin/ (the UI is found from there)
  const dir = `${ROOT}.tmp/test-cli-${process.pid}`;
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'scripts/build-cli.ts', dir], { cwd: ROOT, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`could not bundle the CLI: ${r.stderr}`);
  process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  return (built = `${dir}/main.js`);
}

/** `node …cliArgs(ARGS)` runs `yubin ARGS…` as bin/yubin.js does. */
export function cliArgs(args: string[]): string[] {
  const url = pathToFileURL(cliMain()).href;
  return ['-e', `import(${JSON.stringify(url)}).then((m) => m.main(['node', 'yubin', ...process.argv.slice(1)]))`, ...args];
}

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** `input`: stdin, as text (UTF-8) or as bytes. */
export function runCli(args: string[], opts: { env?: Record<string, string | undefined>; input?: string | Buffer } = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, cliArgs(args), {
      cwd: ROOT,
      env: { ...process.env, YUBIN_LOG_LEVEL: 'silent', ...opts.env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? 1, stdout, stderr }));
    child.stdin.end(opts.input ?? '');
  });
}
