// The one place mail accounts change. Passwords are sealed (AES-256-GCM) before
// they reach the database and never come back out of this service except to
// the protocol code through `credentials()`.
import { randomUUID } from 'node:crypto';
import type { Transaction } from 'kysely';
import { AppError, notFound, ValidationError, type FieldIssue } from '../domain/errors.ts';
import {
  addressKey,
  checkAddress,
  checkLeave,
  checkPassword,
  checkText,
  MailAccountInput,
  MailAccountPatch,
  type AccountSettings,
  type MailAccount,
} from '../domain/mail-account.ts';
import type { MailServer } from '../domain/mail-server.ts';
import { validateSchema } from '../domain/validation.ts';
import { revokeGrant } from '../oauth/revoke.ts';
import { getNotificationSettings } from '../ops/notification-settings.ts';
import type { AccountRowValues } from '../store/mail-accounts.ts';
import { rowToAccount } from '../store/mail-accounts.ts';
import type { Database, MailAccountTable } from '../store/schema.ts';
import type { AppContext } from './context.ts';
import { changedFields, isForeignKeyViolation, isUniqueViolation } from './util.ts';

export interface AccountCredentials {
  username: string;
  password: string | null;
  smtpUsername: string | null;
  smtpPassword: string | null;
}

export class MailAccountService {
  constructor(private readonly ctx: AppContext) {}

  list(): Promise<MailAccount[]> {
    return this.ctx.repos.accounts.list();
  }

  async get(id: string): Promise<MailAccount> {
    const row = await this.ctx.repos.accounts.getRow(id);
    if (!row) throw notFound('what.mailAccount');
    return rowToAccount(row);
  }

  /** By id or by address (the CLI names accounts by address). */
  async find(idOrAddress: string): Promise<MailAccount> {
    const row = (await this.ctx.repos.accounts.getRow(idOrAddress)) ?? (await this.ctx.repos.accounts.getRowByAddress(idOrAddress));
    if (!row) throw notFound('what.mailAccount');
    return rowToAccount(row);
  }

  /** Plain-text credentials for protocol work. Never log or return these. */
  async credentials(id: string): Promise<AccountCredentials> {
    const row = await this.ctx.repos.accounts.getRow(id);
    if (!row) throw notFound('what.mailAccount');
    return {
      username: row.username,
      password: row.password_enc ? this.ctx.secrets.open(row.password_enc) : null,
      smtpUsername: row.smtp_username,
      smtpPassword: row.smtp_password_enc ? this.ctx.secrets.open(row.smtp_password_enc) : null,
    };
  }

  async add(actor: string, body: unknown): Promise<MailAccount> {
    const input = validateSchema<MailAccountInput>(MailAccountInput, body);
    const issues: FieldIssue[] = [];
    const preset = (await this.ctx.repos.servers.get(input.serverId))?.preset ?? null;
    const settings: AccountSettings = {
      displayName: checkText('displayName', input.displayName, 100, issues, true),
      serverId: input.serverId,
      address: checkAddress('address', input.address, issues),
      fromName: checkText('fromName', input.fromName ?? '', 100, issues, false),
      username: checkText('username', input.username ?? '', 255, issues, preset !== 'gmail'),
      password: input.password === undefined ? undefined : checkPassword('password', input.password, issues),
      smtpUsername: input.smtpUsername == null ? null : checkText('smtpUsername', input.smtpUsername, 255, issues, true),
      smtpPassword: input.smtpPassword == null ? null : checkPassword('smtpPassword', input.smtpPassword, issues),
      leaveOnServer: checkLeave(input.leaveOnServer ?? { mode: 'delete' }, issues),
      receiveIntervalMinutes: input.receiveIntervalMinutes ?? 5,
      enabled: input.enabled ?? true,
    };
    const server = await this.checkServerAndAddress(settings, undefined, issues);
    if (server && !server.preset && input.password === undefined) issues.push({ path: 'password', key: 'validation.required' });
    this.checkSmtpCredentials(server, settings.smtpUsername, settings.smtpPassword !== null, issues);
    if (issues.length) throw new ValidationError(issues);
    const id = randomUUID();
    await this.write(settings.address, async (trx) => {
      await this.ctx.repos.accounts.insert(trx, id, this.toRow(settings), new Date().toISOString());
      await this.ctx.repos.audit.append(trx, {
        actor,
        action: 'mail_account.add',
        targetType: 'mail_account',
        targetId: id,
        targetName: settings.address,
        fields: Object.keys(input).sort(),
      });
    });
    return this.get(id);
  }

  async change(actor: string, id: string, body: unknown): Promise<MailAccount> {
    const patch = validateSchema<MailAccountPatch>(MailAccountPatch, body);
    const row = await this.ctx.repos.accounts.getRow(id);
    if (!row) throw notFound('what.mailAccount');
    const current = rowToAccount(row);
    const issues: FieldIssue[] = [];
    const preset = (await this.ctx.repos.servers.get(patch.serverId ?? current.serverId))?.preset ?? null;
    const next: AccountSettings = {
      displayName: patch.displayName === undefined ? current.displayName : checkText('displayName', patch.displayName, 100, issues, true),
      serverId: patch.serverId ?? current.serverId,
      address: patch.address === undefined ? current.address : checkAddress('address', patch.address, issues),
      fromName: patch.fromName === undefined ? current.fromName : checkText('fromName', patch.fromName, 100, issues, false),
      username: patch.username === undefined ? current.username : checkText('username', patch.username, 255, issues, preset !== 'gmail'),
      password: patch.password === undefined ? undefined : checkPassword('password', patch.password, issues),
      smtpUsername:
        patch.smtpUsername === undefined ? current.smtpUsername : patch.smtpUsername === null ? null : checkText('smtpUsername', patch.smtpUsername, 255, issues, true),
      smtpPassword: patch.smtpPassword === undefined ? undefined : patch.smtpPassword === null ? null : checkPassword('smtpPassword', patch.smtpPassword, issues),
      leaveOnServer: patch.leaveOnServer === undefined ? current.leaveOnServer : checkLeave(patch.leaveOnServer, issues),
      receiveIntervalMinutes: patch.receiveIntervalMinutes ?? current.receiveIntervalMinutes,
      enabled: patch.enabled ?? current.enabled,
    };
    const server = await this.checkServerAndAddress(next, id, issues);
    // moved from Gmail (address as user, no password) to a server that needs them
    if (server && server.preset !== 'gmail' && !next.username && !issues.some((i) => i.path === 'username')) issues.push({ path: 'username', key: 'validation.required' });
    if (server && !server.preset && next.password === undefined && !current.hasPassword) issues.push({ path: 'password', key: 'validation.required' });
    const hasSmtpPassword = next.smtpPassword === undefined ? current.hasSmtpPassword : next.smtpPassword !== null;
    this.checkSmtpCredentials(server, next.smtpUsername, hasSmtpPassword, issues);
    if (issues.length) throw new ValidationError(issues);
    const values = this.toRow(next);
    const before = { ...row } as Record<string, unknown>;
    const changed = changedFields(
      pick(before, Object.keys(values)),
      Object.fromEntries(Object.entries(values).filter(([k]) => !k.endsWith('_enc'))),
    ).filter((k) => !k.endsWith('_enc'));
    const fields = [...new Set([...changed.map(columnToField), ...(patch.password !== undefined ? ['password'] : []), ...(patch.smtpPassword !== undefined ? ['smtpPassword'] : [])])];
    if (fields.length === 0) return current;
    // an OAuth grant is consent for one mailbox at one provider: another address, or a server
    // of another provider, needs a new one (XOAUTH2 names the address as the user)
    const previousPreset = next.serverId === current.serverId ? preset : ((await this.ctx.repos.servers.get(current.serverId))?.preset ?? null);
    const dropGrant = current.oauth.status !== 'not_connected' && (addressKey(next.address) !== addressKey(current.address) || server?.preset !== previousPreset);
    await this.write(next.address, async (trx) => {
      await this.ctx.repos.accounts.update(trx, id, values, new Date().toISOString());
      if (dropGrant) await this.ctx.repos.oauth.dropGrant(trx, id);
      await this.ctx.repos.audit.append(trx, { actor, action: 'mail_account.change', targetType: 'mail_account', targetId: id, targetName: next.address, fields });
    });
    // and ended at its provider, as when the account is deleted (best effort)
    if (dropGrant && previousPreset && row.oauth_token_enc) await revokeGrant(this.ctx, previousPreset, row.oauth_token_enc);
    return this.get(id);
  }

  async delete(actor: string, id: string): Promise<void> {
    const row = await this.ctx.repos.accounts.getRow(id);
    if (!row) throw notFound('what.mailAccount');
    // the account that sends stall notifications: deleting it would turn them off unseen
    if ((await getNotificationSettings(this.ctx)).accountId === id) throw new AppError('ACCOUNT_IN_USE', 'error.accountSendsNotifications', { address: row.address });
    await this.ctx.db.transaction(async (trx) => {
      await this.ctx.repos.accounts.delete(trx, id);
      await this.ctx.repos.audit.append(trx, { actor, action: 'mail_account.delete', targetType: 'mail_account', targetId: id, targetName: row.address, fields: [] });
    });
    // a connected preset account: end its grant at the provider too (after the delete, best effort)
    const preset = row.oauth_token_enc ? (await this.ctx.repos.servers.get(row.server_id))?.preset : undefined;
    if (preset && row.oauth_token_enc) await revokeGrant(this.ctx, preset, row.oauth_token_enc);
  }

  private async checkServerAndAddress(s: AccountSettings, selfId: string | undefined, issues: FieldIssue[]): Promise<MailServer | undefined> {
    const server = await this.ctx.repos.servers.get(s.serverId);
    // none chosen (the form's 選択してください): required, not "no such mail server: " with a blank id
    if (!server) issues.push(s.serverId.trim() === '' ? { path: 'serverId', key: 'validation.required' } : { path: 'serverId', key: 'validation.serverNotFound', params: { id: s.serverId } });
    if (!issues.some((i) => i.path === 'address')) {
      const other = await this.ctx.repos.accounts.findByAddressKey(addressKey(s.address));
      if (other && other.id !== selfId) issues.push({ path: 'address', key: 'validation.duplicateAddress', params: { address: s.address } });
    }
    return server;
  }

  private checkSmtpCredentials(server: MailServer | undefined, smtpUsername: string | null, hasSmtpPassword: boolean, issues: FieldIssue[]): void {
    if (!server || server.outgoing.auth.mechanism === null || server.outgoing.auth.useAccountCredentials) return;
    if (!smtpUsername) issues.push({ path: 'smtpUsername', key: 'validation.smtpCredentialsRequired' });
    if (!hasSmtpPassword) issues.push({ path: 'smtpPassword', key: 'validation.smtpCredentialsRequired' });
  }

  private toRow(s: AccountSettings): AccountRowValues {
    const values: AccountRowValues = {
      display_name: s.displayName,
      server_id: s.serverId,
      address: s.address,
      address_key: addressKey(s.address),
      from_name: s.fromName,
      username: s.username,
      password_enc: null,
      smtp_username: s.smtpUsername,
      smtp_password_enc: null,
      leave_mode: s.leaveOnServer.mode,
      leave_days: s.leaveOnServer.mode === 'days' ? (s.leaveOnServer.days ?? null) : null,
      receive_interval_minutes: s.receiveIntervalMinutes,
      enabled: s.enabled ? 1 : 0,
    };
    // undefined = keep the stored secret (PATCH without it)
    const out = values as Partial<AccountRowValues>;
    if (s.password === undefined) delete out.password_enc;
    else out.password_enc = this.ctx.secrets.seal(s.password);
    if (s.smtpPassword === undefined) delete out.smtp_password_enc;
    else out.smtp_password_enc = s.smtpPassword === null ? null : this.ctx.secrets.seal(s.smtpPassword);
    return values;
  }

  private async write(address: string, fn: (trx: Transaction<Database>) => Promise<void>): Promise<void> {
    try {
      await this.ctx.db.transaction(fn);
    } catch (err) {
      if (isUniqueViolation(err)) throw new ValidationError([{ path: 'address', key: 'validation.duplicateAddress', params: { address } }]);
      if (isForeignKeyViolation(err)) throw new ValidationError([{ path: 'serverId', key: 'validation.serverNotFound', params: { id: '' } }]);
      throw err;
    }
  }
}

const COLUMN_TO_FIELD: Partial<Record<keyof MailAccountTable, string>> = {
  display_name: 'displayName',
  server_id: 'serverId',
  address: 'address',
  address_key: 'address',
  from_name: 'fromName',
  username: 'username',
  smtp_username: 'smtpUsername',
  leave_mode: 'leaveOnServer',
  leave_days: 'leaveOnServer',
  receive_interval_minutes: 'receiveIntervalMinutes',
  enabled: 'enabled',
};
function columnToField(col: string): string {
  return COLUMN_TO_FIELD[col as keyof MailAccountTable] ?? col;
}
function pick(o: Record<string, unknown>, keys: string[]): Record<string, unknown> {
  return Object.fromEntries(keys.map((k) => [k, k === 'leave_days' || k === 'receive_interval_minutes' || k === 'enabled' ? (o[k] === null ? null : Number(o[k])) : o[k]]));
}
