// Migration 8: the send worker claims bulk mail one bulk delivery at a time
// (src/store/deliveries.ts, claim). It starts from the running bulk deliveries (a partial
// index keeps that a short walk however many finished ones there are), then walks each one's
// waiting recipients in due order (a partial index per bulk delivery), so that a claim reads
// only the rows it takes: a walk of the one due index over all bulk deliveries read past
// every waiting recipient of a paused or rate-limited bulk delivery on each claim. The
// conditions are written as literals so that both engines match them.
import { sql, type Kysely } from 'kysely';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function up(db: Kysely<any>): Promise<void> {
  await sql`create index bulk_deliveries_running on bulk_deliveries (created_at) where status = 'running'`.execute(db);
  await sql`create index delivery_recipients_bulk_due on delivery_recipients (bulk_id, next_attempt_at) where status in ('queued', 'deferred')`.execute(db);
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropIndex('delivery_recipients_bulk_due').execute();
  await db.schema.dropIndex('bulk_deliveries_running').execute();
}
