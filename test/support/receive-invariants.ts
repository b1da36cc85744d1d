// What must hold after receive runs, however they were interrupted (PRODUCT.md: "a mail is
// deleted from a server only after it is durably stored, and stored once"), checked on the
// store's tables directly; plus what the mailbed's Dovecot serves for a mail file.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { AppContext } from '../../src/services/context.ts';
import type { Mailbed } from './mailbed.ts';

export const sha256 = (b: Buffer | string): string => createHash('sha256').update(b).digest('hex');

/**
 * The bytes Dovecot serves (POP3 RETR, IMAP BODY[]) for a Maildir file: bare LF line ends
 * become CRLF (Dovecot 2.3 normalizes line ends on output; a file written with CRLF is sent
 * as is).
 */
export function servedBytes(file: Buffer): Buffer {
  const out: number[] = [];
  for (let i = 0; i < file.length; i++) {
    const b = file[i]!;
    if (b === 0x0a && (i === 0 || file[i - 1] !== 0x0d)) out.push(0x0d);
    out.push(b);
  }
  return Buffer.from(out);
}

/** The mail files now in the user's Maildir (new + cur), as Dovecot will serve them. */
export async function maildirMails(bed: Mailbed, user: string): Promise<Buffer[]> {
  const md = join(bed.dir, 'mail', user, 'Maildir');
  const out: Buffer[] = [];
  for (const sub of ['new', 'cur']) {
    for (const name of (await readdir(join(md, sub))).sort()) {
      if (name.startsWith('.')) continue;
      out.push(servedBytes(await readFile(join(md, sub, name))));
    }
  }
  return out;
}

/**
 * Make Dovecot forget the mailbox's UIDs: its uidlist and index go, so it assigns a new
 * UIDVALIDITY and new UIDs (and POP3 UIDLs, which the mailbed builds from both) to the same
 * files — what a restored or migrated mailbox looks like. dovecot-uidvalidity stays, so the
 * new value is the old one + 1 even within the same second.
 */
export async function resetUidValidity(bed: Mailbed, user: string): Promise<void> {
  // a session whose connection a test just cut may still rewrite the old uidlist as it closes
  await bed.waitIdle(user);
  const md = join(bed.dir, 'mail', user, 'Maildir');
  for (const name of await readdir(md)) {
    if (name === 'dovecot-uidlist' || name.startsWith('dovecot.index') || name.startsWith('dovecot.list.index')) await rm(join(md, name), { force: true });
  }
}

export interface InvariantInput {
  ctx: AppContext;
  accountId: string;
  bed: Mailbed;
  user: string;
  /** SHA-256 of every mail delivered (as served) */
  expected: Set<string>;
  policy: 'delete' | 'forever';
  /** check every stored mail's bytes against its SHA-256 (default true) */
  checkBytes?: boolean;
}

/**
 * After the runs completed: the store holds each delivered mail exactly once (same set of
 * SHA-256, one row each, bytes intact), one UID row per mail, the server holds what the
 * policy says, no staged piece of a big mail is left, and the deletion log has one 'done'
 * entry per deleted mail, none pending, none pointing at a mail the store does not have.
 */
export async function assertReceiveInvariants(x: InvariantInput): Promise<void> {
  const db = x.ctx.db.kysely;
  const n = x.expected.size;
  const rows = await db.selectFrom('messages').select(['id', 'sha256', 'size']).where('account_id', '=', x.accountId).execute();
  const stored = rows.map((r) => r.sha256);
  const missing = [...x.expected].filter((h) => !stored.includes(h));
  const extra = stored.filter((h) => !x.expected.has(h));
  assert.deepEqual({ missing: missing.length, extra: extra.length }, { missing: 0, extra: 0 }, 'stored mails differ from the delivered ones');
  assert.equal(rows.length, n, `${rows.length} message rows for ${n} mails: duplicates`);
  const byId = new Map(rows.map((r) => [r.id, r]));
  if (x.checkBytes !== false) {
    for (const r of rows) {
      const raw = await x.ctx.repos.messages.rawBuffer(r.id);
      assert.equal(sha256(raw), r.sha256, `stored bytes of ${r.id} do not match its SHA-256`);
      assert.equal(raw.length, Number(r.size));
    }
  }

  const uids = await db.selectFrom('message_uids').selectAll().where('account_id', '=', x.accountId).execute();
  assert.equal(uids.length, n, `${uids.length} UID rows for ${n} mails`);
  assert.equal(new Set(uids.map((u) => u.message_id)).size, n, 'two UIDs point at one stored mail');
  for (const u of uids) assert.ok(byId.has(u.message_id), `UID ${u.uid} points at a missing message`);

  const staged = await db.selectFrom('message_staging_chunks').select('seq').where('account_id', '=', x.accountId).execute();
  assert.equal(staged.length, 0, 'staged pieces of a big mail left behind after a completed run');

  const onServer = await x.bed.count(x.user);
  const log = await db.selectFrom('deletion_log').selectAll().where('account_id', '=', x.accountId).execute();
  for (const l of log) {
    const m = byId.get(l.message_id);
    assert.ok(m, `deletion log entry ${l.id} (UID ${l.uid}, ${l.status}) names a message the store does not have`);
    assert.equal(l.sha256, m.sha256, `deletion log entry ${l.id}: SHA-256 differs from the stored mail`);
  }
  assert.deepEqual(
    log.filter((l) => l.status === 'pending').map((l) => l.uid),
    [],
    'deletion log entries left pending after a completed run',
  );
  const done = log.filter((l) => l.status === 'done');
  if (x.policy === 'delete') {
    assert.equal(onServer, 0, 'mail left on the server under policy delete');
    assert.equal(done.length, n, `${done.length} 'done' deletion entries for ${n} deleted mails: ${JSON.stringify(log.map((l) => [l.uid, l.status, l.requested_at]))}`);
    assert.equal(new Set(done.map((l) => l.uid)).size, n, 'a UID was logged as deleted twice');
    assert.deepEqual(new Set(done.map((l) => l.uid)), new Set(uids.map((u) => u.uid)));
    assert.ok(
      uids.every((u) => u.deleted_at !== null),
      `${uids.filter((u) => u.deleted_at === null).length} UIDs not marked deleted`,
    );
  } else {
    assert.equal(onServer, n, 'mail deleted from the server under policy forever');
    assert.equal(log.length, 0, 'deletion log entries under policy forever');
    assert.ok(uids.every((u) => u.deleted_at === null));
  }
}
