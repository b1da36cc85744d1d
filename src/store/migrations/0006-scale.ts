// Migration 6: scale-out. Workers claim due accounts oldest first
// (src/store/due-accounts.ts): an index on the due time keeps that claim a short
// index walk however many accounts there are.
import type { Kysely } from 'kysely';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.createIndex('mail_accounts_due').on('mail_accounts').columns(['enabled', 'next_run_at']).execute();
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropIndex('mail_accounts_due').execute();
}
