// Migration 9: the claim looks for recipients whose worker died (status 'sending', lease run
// out) per bulk delivery, like it looks for due ones (migration 8). With the lease time alone
// in the index, SQLite walked every recipient of the bulk delivery being sent right now
// (bulk_id, status), read each row for its lease, and sorted them, on every claim; this
// index answers "any stale ones in this bulk delivery?" without touching a row.
//
// It replaces the lease-time index. Two more go, each one index fewer to update for every
// recipient claimed and again when its result comes: the single sends' due index (they are
// the bulk_id IS NULL part of migration 8's per-bulk one), and the lease holder's index (a
// worker renews its leases every 20 s by walking this index, which holds only the
// recipients being sent).
import { sql, type Kysely } from 'kysely';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function up(db: Kysely<any>): Promise<void> {
  await sql`create index delivery_recipients_bulk_stale on delivery_recipients (bulk_id, lease_expires_at) where status = 'sending'`.execute(db);
  await db.schema.dropIndex('delivery_recipients_stale').execute();
  await db.schema.dropIndex('delivery_recipients_due').execute();
  await db.schema.dropIndex('delivery_recipients_lease').execute();
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function down(db: Kysely<any>): Promise<void> {
  await sql`create index delivery_recipients_lease on delivery_recipients (lease_holder) where status = 'sending'`.execute(db);
  await sql`create index delivery_recipients_due on delivery_recipients (priority, next_attempt_at) where status in ('queued', 'deferred')`.execute(db);
  await sql`create index delivery_recipients_stale on delivery_recipients (lease_expires_at) where status = 'sending'`.execute(db);
  await db.schema.dropIndex('delivery_recipients_bulk_stale').execute();
}
