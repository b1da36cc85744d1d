// Run the real `yubin` CLI (from src/ through tsx) in a child process.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
/** `node --import tsx -e ENTRY ARGS…` runs `yubin ARGS…` from src/. */
export const ENTRY = `import('./src/cli/main.ts').then((m) => m.main(['node', 'yubin', ...process.argv.slice(1)]))`;

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** `input`: stdin, as text (UTF-8) or as bytes. */
export function runCli(args: string[], opts: { env?: Record<string, string | undefined>; input?: string | Buffer } = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', '-e', ENTRY, ...args], {
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
