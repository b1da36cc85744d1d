// Secrets at rest (mail passwords, OAuth tokens): AES-256-GCM with a random
// 12-byte nonce per value. Stored form: "v1:" + base64(nonce | tag | ciphertext).
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { AppError } from '../domain/errors.ts';

const VERSION = 'v1:';

export class SecretBox {
  constructor(private readonly key: Buffer) {
    if (key.length !== 32) throw new Error('SecretBox needs a 32-byte key');
  }

  seal(plain: string): string {
    const nonce = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.key, nonce);
    const body = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]);
    return VERSION + Buffer.concat([nonce, cipher.getAuthTag(), body]).toString('base64');
  }

  open(sealed: string): string {
    if (!sealed.startsWith(VERSION)) throw new Error('unknown secret format');
    const buf = Buffer.from(sealed.slice(VERSION.length), 'base64');
    if (buf.length < 28) throw new Error('sealed secret is too short');
    // pin the tag length: Node would otherwise accept truncated (forgeable) 4-byte tags
    const decipher = createDecipheriv('aes-256-gcm', this.key, buf.subarray(0, 12), { authTagLength: 16 });
    decipher.setAuthTag(buf.subarray(12, 28));
    try {
      return Buffer.concat([decipher.update(buf.subarray(28)), decipher.final()]).toString('utf8');
    } catch {
      // the tag does not match: another key than the one this data was sealed with (or
      // tampered data). Not the mail's fault: senders keep it queued, the CLI says which key
      throw new AppError('SECRET_KEY_MISMATCH', 'error.secretKeyMismatch');
    }
  }
}

export function isSecretKeyMismatch(err: unknown): boolean {
  return err instanceof AppError && err.code === 'SECRET_KEY_MISMATCH';
}
