// Migration 5: operations. `account_stalls` holds the accounts the stall monitor found
// stalled (no successful receive for three intervals, or five failed runs in a row). The
// row is the one place every monitor (serve front ends, workers) agrees on: it is created
// with INSERT … ON CONFLICT DO NOTHING, the notification is claimed with a conditional
// UPDATE in the same transaction that queues the mail, and it is deleted when the account
// recovers — so each stall is announced once, however many monitors run.
import type { Kysely } from 'kysely';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('account_stalls')
    .addColumn('account_id', 'text', (c) => c.primaryKey().references('mail_accounts.id').onDelete('cascade'))
    /** when the account became stalled (its last success + three intervals, or its fifth failed run) */
    .addColumn('since', 'text', (c) => c.notNull())
    /** no_success | failures */
    .addColumn('reason', 'text', (c) => c.notNull())
    /** the notification mail (a delivery), once queued */
    .addColumn('notified_delivery_id', 'text')
    .addColumn('notified_at', 'text')
    .execute();
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('account_stalls').execute();
}
