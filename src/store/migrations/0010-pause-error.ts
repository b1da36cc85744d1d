// Migration 10: a bulk delivery that paused itself keeps the error that paused it. A refused
// login had the account's flag for that (0003); a connection that the server's settings do
// not let through (TLS, another protocol's port, STARTTLS not offered) pauses the account's
// bulk deliveries too, and the page says why with this error, until the delivery resumes.
import type { Kysely } from 'kysely';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('bulk_deliveries').addColumn('pause_error_code', 'text').execute();
  await db.schema.alterTable('bulk_deliveries').addColumn('pause_error_message', 'text').execute();
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('bulk_deliveries').dropColumn('pause_error_message').execute();
  await db.schema.alterTable('bulk_deliveries').dropColumn('pause_error_code').execute();
}
