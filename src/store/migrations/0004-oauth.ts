// Migration 4: OAuth 2.0 (XOAUTH2) for the Gmail and Exchange Online presets.
// oauth_providers: one row per preset with the administrator's OAuth client (the secret
// sealed) and the provider's endpoints, which tests point at a local server.
// oauth_states: pending authorization-code flows (state → PKCE verifier, bound to the
// administrator who started it, single use, short-lived).
// mail_accounts gains the grant's state: a version that every token write bumps (compare-
// and-swap: two workers refreshing at once never overwrite each other's rotated refresh
// token) and a status ('connected' | 'reauthorize') with the provider's last error.
import type { Kysely } from 'kysely';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('oauth_providers')
    /** 'gmail' | 'exchange_online' */
    .addColumn('preset', 'text', (c) => c.primaryKey())
    .addColumn('client_id', 'text', (c) => c.notNull())
    .addColumn('client_secret_enc', 'text')
    /** Microsoft Entra tenant (id, domain, 'organizations' or 'common'); null for Google */
    .addColumn('tenant', 'text')
    /** JSON of endpoint overrides (authorization, token, issuer, revocation, introspection) */
    .addColumn('endpoints_json', 'text', (c) => c.notNull())
    /** JSON of a test-only mail server override per protocol (not exposed by the UI) */
    .addColumn('server_override_json', 'text')
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .execute();

  await db.schema
    .createTable('oauth_states')
    /** sha256 of the state parameter */
    .addColumn('state_hash', 'text', (c) => c.primaryKey())
    .addColumn('account_id', 'text', (c) => c.notNull().references('mail_accounts.id').onDelete('cascade'))
    /** who started the flow: the callback must come from the same administrator session */
    .addColumn('session_binding', 'text', (c) => c.notNull())
    .addColumn('actor', 'text', (c) => c.notNull())
    .addColumn('code_verifier_enc', 'text', (c) => c.notNull())
    .addColumn('redirect_uri', 'text', (c) => c.notNull())
    .addColumn('expires_at', 'text', (c) => c.notNull())
    .execute();

  await db.schema.alterTable('mail_accounts').addColumn('oauth_token_version', 'integer', (c) => c.notNull().defaultTo(0)).execute();
  await db.schema.alterTable('mail_accounts').addColumn('oauth_status', 'text').execute();
  await db.schema.alterTable('mail_accounts').addColumn('oauth_error_code', 'text').execute();
  await db.schema.alterTable('mail_accounts').addColumn('oauth_error_message', 'text').execute();
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function down(db: Kysely<any>): Promise<void> {
  for (const col of ['oauth_error_message', 'oauth_error_code', 'oauth_status', 'oauth_token_version']) {
    await db.schema.alterTable('mail_accounts').dropColumn(col).execute();
  }
  await db.schema.dropTable('oauth_states').execute();
  await db.schema.dropTable('oauth_providers').execute();
}
