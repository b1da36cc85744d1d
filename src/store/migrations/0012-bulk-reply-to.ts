// Migration 12: a bulk delivery's Reply-To, the same address in every mail it sends (a
// newsletter sent from a no-reply address whose answers should reach a person). Null: none.
import type { Kysely } from 'kysely';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('bulk_deliveries').addColumn('reply_to', 'text').execute();
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('bulk_deliveries').dropColumn('reply_to').execute();
}
