// Mail account rows. Secrets stay sealed here; the service opens them only for
// protocol work and never returns them.
import type { Kysely, Transaction } from 'kysely';
import type { MailAccount } from '../domain/mail-account.ts';
import type { Database, MailAccountTable } from './schema.ts';

type Q = Kysely<Database> | Transaction<Database>;

export function rowToAccount(r: MailAccountTable): MailAccount {
  return {
    id: r.id,
    displayName: r.display_name,
    serverId: r.server_id,
    address: r.address,
    fromName: r.from_name,
    username: r.username,
    hasPassword: r.password_enc !== null,
    smtpUsername: r.smtp_username,
    hasSmtpPassword: r.smtp_password_enc !== null,
    leaveOnServer: r.leave_mode === 'days' ? { mode: 'days', days: Number(r.leave_days) } : { mode: r.leave_mode as 'delete' | 'forever' },
    receiveIntervalMinutes: Number(r.receive_interval_minutes),
    enabled: !!r.enabled,
    oauth: {
      status: r.oauth_status === 'reauthorize' ? 'reauthorize' : r.oauth_token_enc ? 'connected' : 'not_connected',
      errorCode: r.oauth_status === 'reauthorize' ? r.oauth_error_code : null,
      errorDescription: r.oauth_status === 'reauthorize' ? r.oauth_error_message : null,
    },
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  };
}

export type AccountRowValues = Omit<
  MailAccountTable,
  | 'id'
  | 'created_at'
  | 'updated_at'
  | 'oauth_token_enc'
  | 'oauth_token_version'
  | 'oauth_status'
  | 'oauth_error_code'
  | 'oauth_error_message'
  | 'last_run_at'
  | 'last_success_at'
  | 'last_error_code'
  | 'last_error_message'
  | 'consecutive_failures'
  | 'next_run_at'
  | 'last_summary'
  | 'on_server_count'
  | 'stored_on_server_count'
>;

export class MailAccountRepository {
  constructor(private readonly db: Kysely<Database>) {}

  async list(q: Q = this.db): Promise<MailAccount[]> {
    const rows = await q.selectFrom('mail_accounts').selectAll().orderBy('address_key').execute();
    return rows.map(rowToAccount);
  }

  async getRow(id: string, q: Q = this.db): Promise<MailAccountTable | undefined> {
    return q.selectFrom('mail_accounts').selectAll().where('id', '=', id).executeTakeFirst();
  }

  async getRowByAddress(address: string, q: Q = this.db): Promise<MailAccountTable | undefined> {
    return q.selectFrom('mail_accounts').selectAll().where('address_key', '=', address.trim().toLowerCase()).executeTakeFirst();
  }

  async findByAddressKey(key: string, q: Q = this.db): Promise<{ id: string } | undefined> {
    return q.selectFrom('mail_accounts').select('id').where('address_key', '=', key).executeTakeFirst();
  }

  async usingServer(serverId: string, q: Q = this.db): Promise<{ id: string; address: string }[]> {
    return q.selectFrom('mail_accounts').select(['id', 'address']).where('server_id', '=', serverId).orderBy('address_key').execute();
  }

  /** The server's accounts that have no SMTP user name or password of their own. */
  async withoutSmtpCredentials(serverId: string, q: Q = this.db): Promise<{ id: string; address: string }[]> {
    return q
      .selectFrom('mail_accounts')
      .select(['id', 'address'])
      .where('server_id', '=', serverId)
      .where((eb) => eb.or([eb('smtp_username', 'is', null), eb('smtp_username', '=', ''), eb('smtp_password_enc', 'is', null)]))
      .orderBy('address_key')
      .execute();
  }

  async insert(q: Q, id: string, values: AccountRowValues, now: string): Promise<void> {
    await q
      .insertInto('mail_accounts')
      .values({ id, ...values, oauth_token_enc: null, oauth_token_version: 0, oauth_status: null, oauth_error_code: null, oauth_error_message: null, consecutive_failures: 0, last_summary: null, on_server_count: null, stored_on_server_count: null, created_at: now, updated_at: now })
      .execute();
  }

  async update(q: Q, id: string, values: Partial<AccountRowValues>, now: string): Promise<void> {
    await q
      .updateTable('mail_accounts')
      .set({ ...values, updated_at: now })
      .where('id', '=', id)
      .execute();
  }

  async delete(q: Q, id: string): Promise<void> {
    await q.deleteFrom('mail_accounts').where('id', '=', id).execute();
  }
}
