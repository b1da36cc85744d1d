// Which `yubin serve` / `yubin worker` processes use a data folder right now: each writes
// `processes/<pid>.json` into it at start and removes it at exit. `yubin restore` refuses
// to replace the database under a live one. A file left by a killed process names a pid
// that no longer runs and is ignored (and removed). SQLite is one machine, so pids suffice.
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';

export const PROCESSES_DIR = 'processes';

export interface RunningProcess {
  pid: number;
  role: string;
  startedAt: string;
  host: string;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Record this process; returns the function that removes the record (also run on exit). */
export function registerProcess(dataDir: string, role: string): () => void {
  const dir = join(dataDir, PROCESSES_DIR);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const file = join(dir, `${process.pid}.json`);
  const entry: RunningProcess = { pid: process.pid, role, startedAt: new Date().toISOString(), host: hostname() };
  writeFileSync(file, JSON.stringify(entry) + '\n', { mode: 0o600 });
  const remove = () => rmSync(file, { force: true });
  process.once('exit', remove);
  return remove;
}

/** Live processes registered in the data folder (stale records are removed). */
export function runningProcesses(dataDir: string): RunningProcess[] {
  const dir = join(dataDir, PROCESSES_DIR);
  let names: string[];
  try {
    names = readdirSync(dir).filter((n) => n.endsWith('.json'));
  } catch {
    return [];
  }
  const out: RunningProcess[] = [];
  for (const name of names) {
    let entry: RunningProcess;
    try {
      entry = JSON.parse(readFileSync(join(dir, name), 'utf8')) as RunningProcess;
    } catch {
      continue; // being written right now, or damaged: not proof of a live process
    }
    if (entry.pid !== process.pid && alive(entry.pid)) out.push(entry);
    else if (entry.pid !== process.pid) rmSync(join(dir, name), { force: true });
  }
  return out;
}
