// Streaming a big mail allocates a socket buffer for every 64 KiB that arrives; V8
// frees them only when its external-memory heuristic fires (~64 MB later), which is
// what would make receiving one 50 MB mail cost 150+ MB. While a big mail streams
// we ask for a young-generation collection every 2 MiB instead: about a
// millisecond each, and memory stays flat.
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

type GcFn = (opts?: { type?: 'major' | 'minor'; execution?: 'sync' }) => void;
let gcFn: GcFn | null | undefined;

function getGc(): GcFn | null {
  if (gcFn !== undefined) return gcFn;
  try {
    setFlagsFromString('--expose-gc');
    gcFn = runInNewContext('gc') as GcFn;
  } catch {
    gcFn = null;
  }
  return gcFn;
}

/** Bytes received between two collections while a big mail streams. */
export const BIG_MAIL_GC_INTERVAL_BYTES = 2 * 1024 * 1024;

export function collectYoungGarbage(): void {
  getGc()?.({ type: 'minor' });
}
