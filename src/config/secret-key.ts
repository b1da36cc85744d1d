// The key that encrypts secrets at rest: YUBIN_SECRET_KEY, or the key file
// `secret.key` in the data folder, created on first start with mode 0600.
import { randomBytes } from 'node:crypto';
import { chmodSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ensureDataDir } from './data-dir.ts';
import { ConfigError, type AppConfig } from './env.ts';

export const KEY_FILE_NAME = 'secret.key';

export function loadSecretKey(config: Pick<AppConfig, 'dataDir' | 'secretKey'>): Buffer {
  if (config.secretKey) return config.secretKey;
  ensureDataDir(config.dataDir);
  const file = join(config.dataDir, KEY_FILE_NAME);
  let text: string;
  try {
    text = readFileSync(file, 'utf8').trim();
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    // a directory, or a file this user cannot read: say which file, naming the variable
    if (code !== 'ENOENT') throw new ConfigError('YUBIN_DATA_DIR', 'config.keyFileUnreadable', { file, reason: code ?? String(err) });
    const key = randomBytes(32);
    // 'wx' fails if another process created the file meanwhile: then read theirs.
    try {
      writeFileSync(file, key.toString('base64') + '\n', { mode: 0o600, flag: 'wx' });
      chmodSync(file, 0o600);
      return key;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      text = readFileSync(file, 'utf8').trim();
    }
  }
  const key = Buffer.from(text, 'base64');
  if (key.length !== 32) {
    throw new ConfigError('YUBIN_DATA_DIR', 'config.keyFile', { file });
  }
  if ((statSync(file).mode & 0o077) !== 0) chmodSync(file, 0o600);
  return key;
}
