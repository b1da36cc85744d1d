// Migration 3: sending. A delivery is one outgoing mail (a single send, or one item of a
// bulk delivery); each of its recipients is a row with its own state machine
// (queued → sending → sent | deferred | failed, or cancelled), attempts, next attempt, lease
// and the last SMTP code and reply. The mail's exact bytes are kept in chunks (sent mail is
// stored raw). Bulk deliveries hold the templates and the skipped CSV rows; send_slots is
// the per-minute limit's ledger shared by every worker; suppressions is the 配信停止 list;
// account_send_state flags an account whose SMTP login was refused.
import { PostgresAdapter, sql, type Kysely } from 'kysely';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function up(db: Kysely<any>): Promise<void> {
  const blobType = db.getExecutor().adapter instanceof PostgresAdapter ? sql`bytea` : sql`blob`;

  await db.schema
    .createTable('bulk_deliveries')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('account_id', 'text', (c) => c.notNull().references('mail_accounts.id').onDelete('cascade'))
    /** running | paused | done | cancelled */
    .addColumn('status', 'text', (c) => c.notNull())
    /** why a bulk delivery paused itself ('auth_failed'), null when paused by hand */
    .addColumn('pause_reason', 'text')
    .addColumn('subject_template', 'text', (c) => c.notNull())
    .addColumn('text_template', 'text')
    .addColumn('html_template', 'text')
    .addColumn('charset', 'text', (c) => c.notNull())
    .addColumn('total', 'integer', (c) => c.notNull())
    /** JSON array of { row, line, address, reason } */
    .addColumn('skipped_json', 'text', (c) => c.notNull())
    .addColumn('created_by', 'text', (c) => c.notNull())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .addColumn('finished_at', 'text')
    .execute();
  await db.schema.createIndex('bulk_deliveries_account').on('bulk_deliveries').columns(['account_id', 'created_at']).execute();

  await db.schema
    .createTable('deliveries')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('account_id', 'text', (c) => c.notNull().references('mail_accounts.id').onDelete('cascade'))
    .addColumn('bulk_id', 'text', (c) => c.references('bulk_deliveries.id').onDelete('cascade'))
    /** bulk: the CSV row (the header is row 1) */
    .addColumn('row_number', 'integer')
    /** bulk: JSON object of the row's merge fields */
    .addColumn('fields_json', 'text')
    /** the subject as sent (bulk: filled in when the mail is composed) */
    .addColumn('subject', 'text')
    /** Message-ID header, with angle brackets */
    .addColumn('message_id', 'text')
    .addColumn('size', 'integer')
    /** the charset asked for: utf-8 | iso-2022-jp */
    .addColumn('charset', 'text', (c) => c.notNull())
    /** JSON list of characters that made an iso-2022-jp mail fall back to UTF-8 */
    .addColumn('charset_fallback', 'text')
    .addColumn('created_by', 'text', (c) => c.notNull())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('deliveries_bulk').on('deliveries').columns(['bulk_id', 'row_number']).execute();

  await db.schema
    .createTable('delivery_recipients')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('delivery_id', 'text', (c) => c.notNull().references('deliveries.id').onDelete('cascade'))
    .addColumn('account_id', 'text', (c) => c.notNull())
    .addColumn('bulk_id', 'text')
    /** order within the delivery: To first, then Cc, then Bcc */
    .addColumn('seq', 'integer', (c) => c.notNull())
    /** to | cc | bcc */
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('address', 'text', (c) => c.notNull())
    /** queued | sending | sent | deferred | failed | cancelled */
    .addColumn('status', 'text', (c) => c.notNull())
    /** 0 single sends (never wait behind bulk), 1 bulk */
    .addColumn('priority', 'integer', (c) => c.notNull())
    .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('next_attempt_at', 'text', (c) => c.notNull())
    .addColumn('lease_holder', 'text')
    .addColumn('lease_expires_at', 'text')
    .addColumn('code', 'integer')
    .addColumn('reply', 'text')
    .addColumn('error_code', 'text')
    .addColumn('error_message', 'text')
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .addColumn('sent_at', 'text')
    .execute();
  // claiming walks these in order and stops at its limit (partial indexes: only rows with
  // work left; the claim query writes the same conditions as literals)
  await sql`create index delivery_recipients_due on delivery_recipients (priority, next_attempt_at) where status in ('queued', 'deferred')`.execute(db);
  await sql`create index delivery_recipients_stale on delivery_recipients (lease_expires_at) where status = 'sending'`.execute(db);
  await sql`create index delivery_recipients_lease on delivery_recipients (lease_holder) where status = 'sending'`.execute(db);
  await db.schema.createIndex('delivery_recipients_delivery').on('delivery_recipients').columns(['delivery_id', 'seq']).execute();
  await db.schema.createIndex('delivery_recipients_bulk').on('delivery_recipients').columns(['bulk_id', 'status']).execute();

  await db.schema
    .createTable('delivery_chunks')
    .addColumn('delivery_id', 'text', (c) => c.notNull().references('deliveries.id').onDelete('cascade'))
    .addColumn('seq', 'integer', (c) => c.notNull())
    .addColumn('data', blobType, (c) => c.notNull())
    .addPrimaryKeyConstraint('delivery_chunks_pk', ['delivery_id', 'seq'])
    .execute();

  await db.schema
    .createTable('send_slots')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('server_id', 'text', (c) => c.notNull())
    .addColumn('started_at', 'text', (c) => c.notNull())
    .addColumn('holder', 'text', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('send_slots_server').on('send_slots').columns(['server_id', 'started_at']).execute();

  await db.schema
    .createTable('suppressions')
    /** the address lower-cased: one entry per address */
    .addColumn('address_key', 'text', (c) => c.primaryKey())
    .addColumn('address', 'text', (c) => c.notNull())
    .addColumn('reason', 'text')
    .addColumn('created_by', 'text', (c) => c.notNull())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .execute();

  await db.schema
    .createTable('account_send_state')
    .addColumn('account_id', 'text', (c) => c.primaryKey().references('mail_accounts.id').onDelete('cascade'))
    .addColumn('auth_failed_at', 'text')
    /** the account's updated_at when it was flagged: a later change of the account clears the flag */
    .addColumn('account_updated_at', 'text')
    .addColumn('error_code', 'text')
    .addColumn('error_message', 'text')
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .execute();
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function down(_db: Kysely<any>): Promise<void> {
  throw new Error('migration 0003 cannot be undone');
}
