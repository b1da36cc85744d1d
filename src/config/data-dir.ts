// The data folder (YUBIN_DATA_DIR): made on first start, mode 0700. What stops it is a
// ConfigError naming the variable, never a bare ENOTDIR or EACCES with a stack trace.
import { accessSync, constants, mkdirSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { MessageRef } from '../domain/errors.ts';
import { ConfigError } from './env.ts';

/** Make `dir` (and missing parents) or check the existing one is a writable folder. */
export function ensureDataDir(dir: string): void {
  // the missing folders, outermost first, made one by one: Node's recursive mkdir loops
  // forever where a parent refuses new entries with ENOENT (/proc)
  const missing: string[] = [];
  let at = dir;
  for (;;) {
    const kind = statKind(at);
    if (kind === 'folder') break;
    if (kind === 'other') throw (at === dir ? new ConfigError('YUBIN_DATA_DIR', 'config.dataDirIsFile', { dir }) : new ConfigError('YUBIN_DATA_DIR', 'config.dataDirPartIsFile', { part: at, dir }));
    missing.unshift(at);
    const parent = dirname(at);
    if (parent === at) break;
    at = parent;
  }
  for (const d of missing) {
    try {
      mkdirSync(d, { mode: 0o700 });
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'EEXIST' && statKind(d) === 'folder') continue; // another process made it meanwhile
      throw new ConfigError('YUBIN_DATA_DIR', 'config.dataDirCreate', { dir: d, reason: reason(code) });
    }
  }
  try {
    accessSync(dir, constants.W_OK | constants.X_OK);
  } catch (err) {
    throw new ConfigError('YUBIN_DATA_DIR', 'config.dataDirWrite', { dir, reason: reason((err as NodeJS.ErrnoException).code) });
  }
}

function statKind(path: string): 'folder' | 'other' | 'missing' {
  try {
    return statSync(path).isDirectory() ? 'folder' : 'other';
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    // ENOTDIR: a part above it is a file, found as the walk goes up
    if (code === 'ENOENT' || code === 'ENOTDIR') return 'missing';
    throw new ConfigError('YUBIN_DATA_DIR', 'config.dataDirRead', { dir: path, reason: reason(code) });
  }
}

function reason(code: string | undefined): MessageRef | string {
  switch (code) {
    case 'EACCES':
    case 'EPERM':
      return new MessageRef('config.reason.denied');
    case 'EROFS':
      return new MessageRef('config.reason.readOnly');
    case 'ENOSPC':
      return new MessageRef('config.reason.noSpace');
    case 'ENOENT':
      return new MessageRef('config.reason.noNewFolders');
    default:
      return code ?? 'unknown error';
  }
}
