// Migration 2: received mail (raw bytes in chunks + metadata), the UIDs each
// account has stored, oversize notices, the deletion log, and the account's
// receive summary.
import { PostgresAdapter, sql, type Kysely } from 'kysely';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function up(db: Kysely<any>): Promise<void> {
  // BLOB on SQLite, bytea on PostgreSQL: the one type name that differs
  const blobType = db.getExecutor().adapter instanceof PostgresAdapter ? sql`bytea` : sql`blob`;

  await db.schema
    .createTable('messages')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('account_id', 'text', (c) => c.notNull().references('mail_accounts.id').onDelete('cascade'))
    .addColumn('received_at', 'text', (c) => c.notNull())
    .addColumn('size', 'integer', (c) => c.notNull())
    .addColumn('sha256', 'text', (c) => c.notNull())
    .addColumn('from_name', 'text')
    .addColumn('from_address', 'text')
    .addColumn('to_json', 'text', (c) => c.notNull())
    .addColumn('cc_json', 'text', (c) => c.notNull())
    .addColumn('subject', 'text')
    .addColumn('date', 'text')
    .addColumn('message_id', 'text')
    .addColumn('attachment_names', 'text', (c) => c.notNull())
    .addColumn('has_attachments', 'integer', (c) => c.notNull())
    .addColumn('parse_error', 'text')
    .execute();
  // one stored copy per account and exact bytes: the fallback identity when UIDs change
  await db.schema.createIndex('messages_account_sha256').on('messages').columns(['account_id', 'sha256']).unique().execute();
  await db.schema.createIndex('messages_account_received').on('messages').columns(['account_id', 'received_at', 'id']).execute();

  await db.schema
    .createTable('message_chunks')
    .addColumn('message_id', 'text', (c) => c.notNull().references('messages.id').onDelete('cascade'))
    .addColumn('seq', 'integer', (c) => c.notNull())
    .addColumn('data', blobType, (c) => c.notNull())
    .addPrimaryKeyConstraint('message_chunks_pk', ['message_id', 'seq'])
    .execute();

  // a big mail's bytes as they arrive, before the mail is complete and committed
  // (no foreign key: the message row does not exist yet; cleared at the next run)
  await db.schema
    .createTable('message_staging_chunks')
    .addColumn('staging_id', 'text', (c) => c.notNull())
    .addColumn('account_id', 'text', (c) => c.notNull())
    .addColumn('seq', 'integer', (c) => c.notNull())
    .addColumn('data', blobType, (c) => c.notNull())
    .addPrimaryKeyConstraint('message_staging_chunks_pk', ['staging_id', 'seq'])
    .execute();

  await db.schema
    .createTable('message_uids')
    .addColumn('account_id', 'text', (c) => c.notNull().references('mail_accounts.id').onDelete('cascade'))
    /** POP3: the UIDL; IMAP4: "<uidvalidity>:<uid>" */
    .addColumn('uid', 'text', (c) => c.notNull())
    .addColumn('message_id', 'text', (c) => c.notNull().references('messages.id').onDelete('cascade'))
    .addColumn('first_seen_at', 'text', (c) => c.notNull())
    .addColumn('deleted_at', 'text')
    .addPrimaryKeyConstraint('message_uids_pk', ['account_id', 'uid'])
    .execute();

  await db.schema
    .createTable('receive_notices')
    .addColumn('account_id', 'text', (c) => c.notNull().references('mail_accounts.id').onDelete('cascade'))
    .addColumn('uid', 'text', (c) => c.notNull())
    .addColumn('size', 'integer', (c) => c.notNull())
    .addColumn('from_text', 'text')
    .addColumn('subject', 'text')
    .addColumn('first_seen_at', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('receive_notices_pk', ['account_id', 'uid'])
    .execute();

  await db.schema
    .createTable('deletion_log')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('account_id', 'text', (c) => c.notNull())
    .addColumn('uid', 'text', (c) => c.notNull())
    .addColumn('sha256', 'text', (c) => c.notNull())
    .addColumn('message_id', 'text', (c) => c.notNull())
    .addColumn('policy', 'text', (c) => c.notNull())
    /** 'pending' before DELE/STORE, 'done' once the server committed (QUIT / EXPUNGE) */
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('requested_at', 'text', (c) => c.notNull())
    .addColumn('deleted_at', 'text')
    .execute();
  await db.schema.createIndex('deletion_log_account').on('deletion_log').columns(['account_id', 'requested_at']).execute();

  await db.schema.alterTable('mail_accounts').addColumn('last_summary', 'text').execute();
  await db.schema.alterTable('mail_accounts').addColumn('on_server_count', 'integer').execute();
  await db.schema.alterTable('mail_accounts').addColumn('stored_on_server_count', 'integer').execute();
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function down(_db: Kysely<any>): Promise<void> {
  throw new Error('migration 0002 cannot be undone');
}
