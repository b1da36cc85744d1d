// Migration 1: mail servers (with the two presets), mail accounts, administrators,
// sessions, API tokens, audit log, settings, leases.
import { randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import { PRESETS, PRESET_ORDER } from '../../domain/presets.ts';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('mail_servers')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('name_key', 'text', (c) => c.notNull().unique())
    .addColumn('preset', 'text', (c) => c.unique())
    .addColumn('position', 'integer', (c) => c.notNull())
    .addColumn('incoming_protocol', 'text', (c) => c.notNull())
    .addColumn('incoming_host', 'text', (c) => c.notNull())
    .addColumn('incoming_port', 'integer', (c) => c.notNull())
    .addColumn('incoming_encryption', 'text', (c) => c.notNull())
    .addColumn('incoming_apop', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('incoming_max_bytes', 'integer')
    .addColumn('incoming_allow_invalid_cert', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('outgoing_host', 'text', (c) => c.notNull())
    .addColumn('outgoing_port', 'integer', (c) => c.notNull())
    .addColumn('outgoing_encryption', 'text', (c) => c.notNull())
    .addColumn('outgoing_auth_mechanism', 'text')
    .addColumn('outgoing_use_account_credentials', 'integer', (c) => c.notNull().defaultTo(1))
    .addColumn('outgoing_max_bytes', 'integer')
    .addColumn('outgoing_per_minute_limit', 'integer')
    .addColumn('outgoing_allow_invalid_cert', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .execute();

  await db.schema
    .createTable('mail_accounts')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('display_name', 'text', (c) => c.notNull())
    .addColumn('server_id', 'text', (c) => c.notNull().references('mail_servers.id'))
    .addColumn('address', 'text', (c) => c.notNull())
    .addColumn('address_key', 'text', (c) => c.notNull().unique())
    .addColumn('from_name', 'text', (c) => c.notNull().defaultTo(''))
    .addColumn('username', 'text', (c) => c.notNull())
    .addColumn('password_enc', 'text')
    .addColumn('smtp_username', 'text')
    .addColumn('smtp_password_enc', 'text')
    .addColumn('leave_mode', 'text', (c) => c.notNull().defaultTo('delete'))
    .addColumn('leave_days', 'integer')
    .addColumn('receive_interval_minutes', 'integer', (c) => c.notNull().defaultTo(5))
    .addColumn('enabled', 'integer', (c) => c.notNull().defaultTo(1))
    .addColumn('oauth_token_enc', 'text')
    .addColumn('last_run_at', 'text')
    .addColumn('last_success_at', 'text')
    .addColumn('last_error_code', 'text')
    .addColumn('last_error_message', 'text')
    .addColumn('consecutive_failures', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('next_run_at', 'text')
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('mail_accounts_server_id').on('mail_accounts').column('server_id').execute();

  await db.schema
    .createTable('admins')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('username', 'text', (c) => c.notNull())
    .addColumn('username_key', 'text', (c) => c.notNull().unique())
    .addColumn('password_hash', 'text', (c) => c.notNull())
    .addColumn('language', 'text')
    .addColumn('created_at', 'text', (c) => c.notNull())
    .execute();

  await db.schema
    .createTable('sessions')
    .addColumn('id_hash', 'text', (c) => c.primaryKey())
    .addColumn('data', 'text', (c) => c.notNull())
    .addColumn('expires_at', 'text', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('sessions_expires_at').on('sessions').column('expires_at').execute();

  await db.schema
    .createTable('api_tokens')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('token_hash', 'text', (c) => c.notNull().unique())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('last_used_at', 'text')
    .addColumn('revoked_at', 'text')
    .execute();

  await db.schema
    .createTable('audit_log')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('at', 'text', (c) => c.notNull())
    .addColumn('actor', 'text', (c) => c.notNull())
    .addColumn('action', 'text', (c) => c.notNull())
    .addColumn('target_type', 'text', (c) => c.notNull())
    .addColumn('target_id', 'text')
    .addColumn('target_name', 'text')
    .addColumn('fields', 'text', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('audit_log_at').on('audit_log').columns(['at', 'id']).execute();

  await db.schema
    .createTable('settings')
    .addColumn('key', 'text', (c) => c.primaryKey())
    .addColumn('value', 'text', (c) => c.notNull())
    .execute();

  await db.schema
    .createTable('leases')
    .addColumn('name', 'text', (c) => c.primaryKey())
    .addColumn('holder', 'text', (c) => c.notNull())
    .addColumn('expires_at', 'text', (c) => c.notNull())
    .execute();

  const now = new Date().toISOString();
  for (const [i, key] of PRESET_ORDER.entries()) {
    const p = PRESETS[key];
    await db
      .insertInto('mail_servers')
      .values({
        id: randomUUID(),
        name: p.name,
        name_key: p.name.toLowerCase(),
        preset: key,
        position: i - PRESET_ORDER.length,
        incoming_protocol: 'imap4',
        incoming_host: p.incoming.imap4.host,
        incoming_port: p.incoming.imap4.port,
        incoming_encryption: p.incomingEncryption,
        incoming_apop: 0,
        incoming_max_bytes: null,
        incoming_allow_invalid_cert: 0,
        outgoing_host: p.outgoing.host,
        outgoing_port: p.outgoing.port,
        outgoing_encryption: p.outgoing.encryption,
        outgoing_auth_mechanism: p.authMechanism,
        outgoing_use_account_credentials: 1,
        outgoing_max_bytes: null,
        outgoing_per_minute_limit: null,
        outgoing_allow_invalid_cert: 0,
        created_at: now,
        updated_at: now,
      })
      .execute();
  }
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function down(_db: Kysely<any>): Promise<void> {
  throw new Error('migration 0001 cannot be undone');
}

