// A real `yubin worker` process (the bundled CLI, test/support/cli.ts) for the
// scale-out tests: started with the environment a deployment would give it, its JSON log
// lines collected, killed or stopped with a signal of the test's choosing.
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { cliArgs, ROOT } from './cli.ts';

export interface WorkerProcess {
  readonly name: string;
  readonly proc: ChildProcess;
  /** every JSON log line so far */
  readonly logs: Record<string, unknown>[];
  /** resolves once the worker logged worker.started */
  readonly ready: Promise<void>;
  /** resolves when the process has exited */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** accounts whose run this worker completed (receive.run.done) */
  receivedAccounts(): Set<string>;
  kill(signal: NodeJS.Signals): void;
}

export function startWorker(name: string, env: Record<string, string>): WorkerProcess {
  const proc = spawn(process.execPath, cliArgs(['worker']), {
    cwd: ROOT,
    env: { ...process.env, YUBIN_LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs: Record<string, unknown>[] = [];
  let stderr = '';
  let onReady: () => void = () => undefined;
  const ready = new Promise<void>((resolve) => (onReady = resolve));
  createInterface({ input: proc.stdout! }).on('line', (line) => {
    try {
      const entry = JSON.parse(line) as Record<string, unknown>;
      logs.push(entry);
      if (entry.msg === 'worker.started') onReady();
    } catch {
      stderr += `(stdout) ${line}\n`;
    }
  });
  proc.stderr!.setEncoding('utf8');
  proc.stderr!.on('data', (d: string) => (stderr += d));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => proc.on('close', (code, signal) => resolve({ code, signal })));
  const readyOrDead = Promise.race([
    ready,
    exited.then((e) => {
      throw new Error(`worker ${name} exited before it was ready (${e.code ?? e.signal}): ${stderr}`);
    }),
  ]);
  readyOrDead.catch(() => undefined);
  return {
    name,
    proc,
    logs,
    ready: readyOrDead,
    exited,
    receivedAccounts: () => new Set(logs.filter((l) => l.msg === 'receive.run.done').map((l) => String(l.accountId))),
    kill(signal) {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
    },
  };
}
