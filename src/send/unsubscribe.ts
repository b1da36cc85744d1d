// Unsubscribe links in bulk mail (配信停止リンク): List-Unsubscribe with RFC 8058's one-click
// POST. Each recipient's link holds its address and an HMAC of it under a key derived from
// the secret key, so nothing is stored per mail, a link works as long as the key does, and
// no one can make a link that unsubscribes somebody else. Following a link adds the address
// to the suppression list (配信停止), which every later bulk delivery skips.
//
// The links are made only when YUBIN_UNSUBSCRIBE_URL says where recipients reach Yubin's
// page (src/http/routes/unsubscribe.ts); every worker needs the same value and key.
import { createHmac, hkdfSync, timingSafeEqual } from 'node:crypto';
import type { AppContext } from '../services/context.ts';
import { normalizeRecipient, recipientKey } from './address.ts';
import { UNSUBSCRIBE_REASONS } from './unsubscribe-reasons.ts';

/** Where Yubin serves the page: a link is `YUBIN_UNSUBSCRIBE_URL/TOKEN`, and a reverse proxy maps that here. */
export const UNSUBSCRIBE_PATH = '/unsubscribe';

/**
 * The merge field that a bulk delivery's templates use to put each recipient's link into
 * the body (「配信停止はこちら: {{unsubscribe_url}}」). Yubin fills it in; a CSV column of the
 * same name is not used while links are on.
 */
export const UNSUBSCRIBE_FIELD = 'unsubscribe_url';

/** 128 bits of HMAC-SHA256. */
const MAC_BYTES = 16;
const TOKEN = /^([A-Za-z0-9_-]{4,700})\.([A-Za-z0-9_-]{22})$/;

const keys = new WeakMap<Buffer, Buffer>();

/** The links' own key, derived from the secret key (the secret key itself encrypts passwords). */
function linkKey(secretKey: Buffer): Buffer {
  let key = keys.get(secretKey);
  if (!key) {
    key = Buffer.from(hkdfSync('sha256', secretKey, Buffer.alloc(0), 'yubin unsubscribe link', 32));
    keys.set(secretKey, key);
  }
  return key;
}

function mac(key: Buffer, address: string): Buffer {
  return createHmac('sha256', key).update(recipientKey(address)).digest().subarray(0, MAC_BYTES);
}

/** The token of one address: the address (base64url) and its MAC. */
export function unsubscribeToken(secretKey: Buffer, address: string): string {
  return `${Buffer.from(address, 'utf8').toString('base64url')}.${mac(linkKey(secretKey), address).toString('base64url')}`;
}

/** The address a token stands for, or null when this key did not make it. */
export function unsubscribeAddress(secretKey: Buffer, token: string): string | null {
  const m = TOKEN.exec(token);
  if (!m) return null;
  const bytes = Buffer.from(m[1]!, 'base64url');
  const given = Buffer.from(m[2]!, 'base64url');
  // one spelling per token: base64url's last character has spare bits, which decoding ignores
  if (bytes.toString('base64url') !== m[1] || given.toString('base64url') !== m[2]) return null;
  const address = bytes.toString('utf8');
  if (given.length !== MAC_BYTES || !timingSafeEqual(given, mac(linkKey(secretKey), address))) return null;
  // made by this key from a recipient's address; checked again all the same
  return normalizeRecipient(address) === address ? address : null;
}

/** Each recipient's link, or null when the mails carry none (YUBIN_UNSUBSCRIBE_URL unset). */
export function unsubscribeLinks(ctx: Pick<AppContext, 'config' | 'secretKey'>): ((address: string) => string) | null {
  const base = ctx.config.unsubscribeUrl;
  if (!base) return null;
  const key = ctx.secretKey;
  return (address) => `${base}/${unsubscribeToken(key, address)}`;
}

/**
 * Put the token's address on the suppression list (kept as it is when it is there already).
 * Returns the address, or null for a token this key did not make.
 */
export async function unsubscribe(ctx: AppContext, token: string, how: 'one-click' | 'page'): Promise<string | null> {
  const address = unsubscribeAddress(ctx.secretKey, token);
  if (!address) return null;
  const repo = ctx.repos.deliveries;
  await repo.write(async (trx) => {
    const added = await repo.addSuppressions(trx, [{ key: recipientKey(address), address }], how === 'one-click' ? UNSUBSCRIBE_REASONS.oneClick : UNSUBSCRIBE_REASONS.page, 'recipient', new Date().toISOString());
    // a second click changes nothing, and is not logged again
    if (added > 0) await ctx.repos.audit.append(trx, { actor: 'recipient', action: 'suppression.add', targetType: 'suppression', targetId: null, targetName: address, fields: ['addresses'] });
  });
  return address;
}
