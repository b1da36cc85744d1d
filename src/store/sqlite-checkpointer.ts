// SQLite WAL checkpoints in a background thread. A checkpoint copies the pages written to
// the WAL back into the database file and syncs it; run by the connection that happens to
// commit when the WAL is full (SQLite's automatic checkpoint), it stops that process's event
// loop for as long as it takes: 0.4–0.7 s for a 128 MB WAL, twice per 10,000 sent mails.
// Here a second connection in a worker thread checkpoints every CHECKPOINT_INTERVAL_MS
// (PASSIVE: it never waits for, nor blocks, the writers and readers of the main connection),
// and the main connection's automatic checkpoint is moved far out, as a safety net for a
// thread that fell behind or died.
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';

/** How often the background connection checkpoints. */
export const CHECKPOINT_INTERVAL_MS = 250;
/** The main connection's automatic checkpoint (pages) while the thread runs: only if it fell far behind. */
export const SAFETY_NET_AUTOCHECKPOINT = 32_000;

export interface Checkpointer {
  /** Checkpoints done so far (each one reported by the thread). */
  readonly checkpoints: number;
  stop(): Promise<void>;
}

// CommonJS run with `eval`: no TypeScript loader needed in the thread, in development or in dist/
const THREAD = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.sqlitePath);
const db = new Database(workerData.file, { timeout: 0 });
db.pragma('synchronous = NORMAL');
let busy = false;
const tick = () => {
  if (busy) return;
  busy = true;
  try {
    const [r] = db.pragma('wal_checkpoint(PASSIVE)');
    if (r && r.log > 0) parentPort.postMessage({ log: r.log, checkpointed: r.checkpointed });
  } catch (err) {
    parentPort.postMessage({ error: String(err && err.message || err) });
  } finally {
    busy = false;
  }
};
const timer = setInterval(tick, workerData.intervalMs);
parentPort.on('message', (m) => {
  if (m !== 'stop') return;
  clearInterval(timer);
  tick();
  db.close();
  parentPort.close();
});
`;

/** Start checkpointing `file` (a SQLite database in WAL mode) from a worker thread. */
export function startCheckpointer(
  file: string,
  opts: { intervalMs?: number; onError?: (message: string) => void; onCheckpoint?: (r: { log: number; checkpointed: number }) => void } = {},
): Checkpointer {
  const sqlitePath = createRequire(import.meta.url).resolve('better-sqlite3');
  const worker = new Worker(THREAD, { eval: true, workerData: { file, sqlitePath, intervalMs: opts.intervalMs ?? CHECKPOINT_INTERVAL_MS } });
  // never keeps the process alive: the database's close() stops it
  worker.unref();
  let checkpoints = 0;
  let lastError = '';
  worker.on('message', (m: { log?: number; checkpointed?: number; error?: string }) => {
    if (m.error) {
      // SQLITE_BUSY and the like: the next tick tries again; say so once per distinct error
      if (m.error !== lastError) opts.onError?.(m.error);
      lastError = m.error;
      return;
    }
    checkpoints++;
    // the WAL's frames and how many of them are in the database file now
    opts.onCheckpoint?.({ log: m.log ?? 0, checkpointed: m.checkpointed ?? 0 });
  });
  worker.on('error', (err) => opts.onError?.(String(err)));
  const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
  return {
    get checkpoints() {
      return checkpoints;
    },
    async stop() {
      worker.postMessage('stop');
      const timeout = setTimeout(() => void worker.terminate(), 5_000);
      await exited;
      clearTimeout(timeout);
    },
  };
}
