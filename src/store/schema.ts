// Table types for Kysely. One set for SQLite and PostgreSQL: booleans are
// integers 0/1, times are ISO-8601 UTC strings, ids are UUID strings, so that
// every query is written once.

export interface MailServerTable {
  id: string;
  name: string;
  /** name trimmed and lower-cased: unique */
  name_key: string;
  /** 'gmail' | 'exchange_online' | null */
  preset: string | null;
  position: number;
  incoming_protocol: string;
  incoming_host: string;
  incoming_port: number;
  incoming_encryption: string;
  incoming_apop: number;
  incoming_max_bytes: number | null;
  incoming_allow_invalid_cert: number;
  outgoing_host: string;
  outgoing_port: number;
  outgoing_encryption: string;
  outgoing_auth_mechanism: string | null;
  outgoing_use_account_credentials: number;
  outgoing_max_bytes: number | null;
  outgoing_per_minute_limit: number | null;
  outgoing_allow_invalid_cert: number;
  created_at: string;
  updated_at: string;
}

export interface MailAccountTable {
  id: string;
  display_name: string;
  server_id: string;
  address: string;
  address_key: string;
  from_name: string;
  username: string;
  password_enc: string | null;
  smtp_username: string | null;
  smtp_password_enc: string | null;
  /** 'delete' | 'days' | 'forever' */
  leave_mode: string;
  leave_days: number | null;
  receive_interval_minutes: number;
  enabled: number;
  /** OAuth 2.0 grant (XOAUTH2 presets), sealed JSON (src/oauth/token-store.ts) */
  oauth_token_enc: string | null;
  /** bumped by every write of oauth_token_enc: the compare-and-swap of a refresh */
  oauth_token_version: number;
  /** null (no grant yet) | 'connected' | 'reauthorize' */
  oauth_status: string | null;
  /** the provider's error that asked for re-authorization (invalid_grant, consent_required …) */
  oauth_error_code: string | null;
  oauth_error_message: string | null;
  /** receive state, filled by the receive run */
  last_run_at: string | null;
  last_success_at: string | null;
  last_error_code: string | null;
  last_error_message: string | null;
  consecutive_failures: number;
  next_run_at: string | null;
  /** JSON ReceiveSummary of the last run */
  last_summary: string | null;
  /** mails on the server at the end of the last run */
  on_server_count: number | null;
  /** of those, how many Yubin has stored (left on the server by policy) */
  stored_on_server_count: number | null;
  created_at: string;
  updated_at: string;
}

export interface AdminTable {
  id: string;
  username: string;
  username_key: string;
  password_hash: string;
  language: string | null;
  created_at: string;
}

export interface SessionTable {
  /** sha256 of the session id: a stolen database does not give live cookies */
  id_hash: string;
  data: string;
  expires_at: string;
}

export interface ApiTokenTable {
  id: string;
  name: string;
  token_hash: string;
  created_at: string;
  last_used_at: string | null;
  revoked_at: string | null;
}

export interface AuditLogTable {
  id: string;
  at: string;
  actor: string;
  action: string;
  target_type: string;
  target_id: string | null;
  target_name: string | null;
  /** JSON array of changed field names — never values of secrets */
  fields: string;
}

export interface SettingTable {
  key: string;
  value: string;
}

export interface LeaseTable {
  /** what is leased, e.g. "receive:<accountId>" */
  name: string;
  holder: string;
  expires_at: string;
}

export interface Database {
  mail_servers: MailServerTable;
  mail_accounts: MailAccountTable;
  admins: AdminTable;
  sessions: SessionTable;
  api_tokens: ApiTokenTable;
  audit_log: AuditLogTable;
  settings: SettingTable;
  leases: LeaseTable;
  messages: MessageTable;
  message_chunks: MessageChunkTable;
  message_staging_chunks: MessageStagingChunkTable;
  message_uids: MessageUidTable;
  receive_notices: ReceiveNoticeTable;
  deletion_log: DeletionLogTable;
  bulk_deliveries: BulkDeliveryTable;
  deliveries: DeliveryTable;
  delivery_recipients: DeliveryRecipientTable;
  delivery_chunks: DeliveryChunkTable;
  delivery_bases: DeliveryBaseTable;
  delivery_recipes: DeliveryRecipeTable;
  send_slots: SendSlotTable;
  suppressions: SuppressionTable;
  account_send_state: AccountSendStateTable;
  oauth_providers: OAuthProviderTable;
  oauth_states: OAuthStateTable;
  account_stalls: AccountStallTable;
  receive_run_histogram: ReceiveRunHistogramTable;
}

export interface ReceiveRunHistogramTable {
  outcome: string;
  bucket: number;
  /** bigint: a string from PostgreSQL */
  runs: number | string;
  seconds_sum: number;
}

export interface MessageTable {
  id: string;
  account_id: string;
  received_at: string;
  size: number;
  sha256: string;
  from_name: string | null;
  from_address: string | null;
  to_json: string;
  cc_json: string;
  subject: string | null;
  date: string | null;
  message_id: string | null;
  attachment_names: string;
  has_attachments: number;
  parse_error: string | null;
}

export interface MessageChunkTable {
  message_id: string;
  seq: number;
  data: Buffer;
}

export interface MessageStagingChunkTable {
  staging_id: string;
  account_id: string;
  seq: number;
  data: Buffer;
}

export interface MessageUidTable {
  account_id: string;
  uid: string;
  message_id: string;
  first_seen_at: string;
  deleted_at: string | null;
}

export interface ReceiveNoticeTable {
  account_id: string;
  uid: string;
  size: number;
  from_text: string | null;
  subject: string | null;
  first_seen_at: string;
}

export interface DeletionLogTable {
  id: string;
  account_id: string;
  uid: string;
  sha256: string;
  message_id: string;
  policy: string;
  status: string;
  requested_at: string;
  deleted_at: string | null;
}

// ---- sending (migration 0003) ------------------------------------------------

export interface BulkDeliveryTable {
  id: string;
  account_id: string;
  /** running | paused | done | cancelled */
  status: string;
  pause_reason: string | null;
  /** the error that paused it ('server_failed'), until it resumes (migration 0010) */
  pause_error_code: string | null;
  pause_error_message: string | null;
  subject_template: string;
  text_template: string | null;
  html_template: string | null;
  charset: string;
  /** the Reply-To address of every mail (migration 0012) */
  reply_to: string | null;
  total: number;
  /** JSON array of skipped CSV rows */
  skipped_json: string;
  created_by: string;
  created_at: string;
  updated_at: string;
  finished_at: string | null;
}

export interface DeliveryTable {
  id: string;
  account_id: string;
  bulk_id: string | null;
  row_number: number | null;
  fields_json: string | null;
  subject: string | null;
  message_id: string | null;
  size: number | null;
  charset: string;
  charset_fallback: string | null;
  created_by: string;
  created_at: string;
}

export interface DeliveryRecipientTable {
  id: string;
  delivery_id: string;
  account_id: string;
  bulk_id: string | null;
  seq: number;
  /** to | cc | bcc */
  kind: string;
  address: string;
  /** queued | sending | sent | deferred | failed | cancelled */
  status: string;
  priority: number;
  attempts: number;
  next_attempt_at: string;
  lease_holder: string | null;
  lease_expires_at: string | null;
  code: number | null;
  reply: string | null;
  error_code: string | null;
  error_message: string | null;
  created_at: string;
  updated_at: string;
  sent_at: string | null;
}

export interface DeliveryChunkTable {
  delivery_id: string;
  seq: number;
  data: Buffer;
}

/** The segments the mails of a bulk delivery share (delivery-raw.ts encodes them). */
export interface DeliveryBaseTable {
  bulk_id: string;
  /** SHA-256 (hex) of the segments */
  id: string;
  data: Buffer;
  created_at: string;
}

/** A sent bulk mail as references to its base's segments and bytes of its own (delivery-raw.ts). */
export interface DeliveryRecipeTable {
  delivery_id: string;
  bulk_id: string;
  base_id: string;
  data: Buffer;
}

export interface SendSlotTable {
  id: string;
  server_id: string;
  started_at: string;
  holder: string;
}

export interface SuppressionTable {
  address_key: string;
  address: string;
  reason: string | null;
  created_by: string;
  created_at: string;
}

export interface AccountSendStateTable {
  account_id: string;
  auth_failed_at: string | null;
  account_updated_at: string | null;
  error_code: string | null;
  error_message: string | null;
  updated_at: string;
}

// ---- OAuth 2.0 (migration 0004) ----------------------------------------------

export interface OAuthProviderTable {
  /** 'gmail' | 'exchange_online' */
  preset: string;
  client_id: string;
  client_secret_enc: string | null;
  tenant: string | null;
  /** JSON OAuthEndpoints overrides */
  endpoints_json: string;
  /** JSON test-only mail server override (see PresetServerOverride in src/services/oauth-providers.ts) */
  server_override_json: string | null;
  updated_at: string;
}

export interface OAuthStateTable {
  state_hash: string;
  account_id: string;
  session_binding: string;
  actor: string;
  code_verifier_enc: string;
  redirect_uri: string;
  expires_at: string;
}

// ---- operations (migration 0005) ---------------------------------------------

export interface AccountStallTable {
  account_id: string;
  since: string;
  /** no_success | failures */
  reason: string;
  notified_delivery_id: string | null;
  notified_at: string | null;
}
