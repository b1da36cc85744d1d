// Due accounts, claimed by one worker at a time. A claim moves the account's next_run_at
// to the end of the claim (now + the lease TTL) in the same statement that picks it, so
// several workers on one database split the due accounts instead of racing for the same
// rows: PostgreSQL skips rows another worker's claim has locked (FOR UPDATE SKIP LOCKED),
// SQLite runs the single UPDATE … RETURNING under its one writer lock. A worker that dies
// leaves next_run_at at the end of its claim: the account is due again after the TTL.
// Oldest due first (never-run accounts before all), so no account waits behind others.
import type { Db } from './database.ts';

export interface ClaimedAccount {
  id: string;
  receiveIntervalMinutes: number;
}

/** `running`: accounts this worker is receiving now, never claimed twice (their due time may have been reset meanwhile). */
export async function claimDueAccounts(db: Db, opts: { now: Date; claimMs: number; limit: number; running?: string[] }): Promise<ClaimedAccount[]> {
  if (opts.limit < 1) return [];
  const now = opts.now.toISOString();
  // a materialized CTE: the picking (and its row locks) runs exactly once, whatever plan
  // PostgreSQL chooses for the UPDATE
  const rows = await db.kysely
    .with(
      (w) => w('due').materialized(),
      (qb) => {
        let due = qb
          .selectFrom('mail_accounts')
          .select('id')
          .where('enabled', '=', 1)
          // an OAuth grant the provider refused waits for the administrator (no retry storm) …
          .where((eb) => eb.or([eb('oauth_status', 'is', null), eb('oauth_status', '!=', 'reauthorize')]))
          // … and so does an account on Gmail / Exchange Online that was never connected
          .where((eb) =>
            eb.or([eb('oauth_token_enc', 'is not', null), eb('server_id', 'not in', eb.selectFrom('mail_servers').select('id').where('preset', 'is not', null))]),
          )
          .where((eb) => eb.or([eb('next_run_at', 'is', null), eb('next_run_at', '<=', now)]))
          .orderBy('next_run_at', (ob) => ob.asc().nullsFirst())
          .orderBy('id')
          .limit(opts.limit);
        if (opts.running?.length) due = due.where('id', 'not in', opts.running);
        return db.dialect === 'postgres' ? due.forUpdate().skipLocked() : due;
      },
    )
    .updateTable('mail_accounts')
    .set({ next_run_at: new Date(opts.now.getTime() + opts.claimMs).toISOString() })
    .where('id', 'in', (eb) => eb.selectFrom('due').select('due.id'))
    .returning(['id', 'receive_interval_minutes'])
    .execute();
  return rows.map((r) => ({ id: r.id, receiveIntervalMinutes: Number(r.receive_interval_minutes) }));
}

/** Keep the claims of runs still in progress (the worker's heartbeat). */
export async function extendClaims(db: Db, ids: string[], until: Date): Promise<void> {
  if (!ids.length) return;
  await db.kysely.updateTable('mail_accounts').set({ next_run_at: until.toISOString() }).where('id', 'in', ids).execute();
}

export async function setNextRun(db: Db, accountId: string, at: Date): Promise<void> {
  await db.kysely.updateTable('mail_accounts').set({ next_run_at: at.toISOString() }).where('id', '=', accountId).execute();
}
