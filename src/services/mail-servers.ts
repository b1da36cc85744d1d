// The one place mail servers change (API, CLI and UI all call these): validate
// everything first, then write in one transaction with its audit entry, so an
// error stores nothing.
import { randomUUID } from 'node:crypto';
import type { Transaction } from 'kysely';
import Type from 'typebox';
import { AppError, notFound, ValidationError, type FieldIssue } from '../domain/errors.ts';
import {
  applyServerPatch,
  buildServerSettings,
  MailServerInput,
  MailServerPatch,
  nameKey,
  type MailServer,
} from '../domain/mail-server.ts';
import { validateSchema } from '../domain/validation.ts';
import type { Database } from '../store/schema.ts';
import type { AppContext } from './context.ts';
import { changedFields, isForeignKeyViolation, isUniqueViolation } from './util.ts';

export class MailServerService {
  constructor(private readonly ctx: AppContext) {}

  list(): Promise<MailServer[]> {
    return this.ctx.repos.servers.list();
  }

  async get(id: string): Promise<MailServer> {
    const s = await this.ctx.repos.servers.get(id);
    if (!s) throw notFound('what.mailServer');
    return s;
  }

  async add(actor: string, body: unknown): Promise<MailServer> {
    const input = validateSchema<MailServerInput>(MailServerInput, body);
    const issues: FieldIssue[] = [];
    const settings = buildServerSettings(input, issues);
    const key = nameKey(settings.name);
    if (!issues.some((i) => i.path === 'name') && (await this.ctx.repos.servers.findByNameKey(key))) {
      issues.push({ path: 'name', key: 'validation.duplicateName', params: { name: settings.name } });
    }
    if (issues.length) throw new ValidationError(issues);
    const id = randomUUID();
    const now = new Date().toISOString();
    await this.write(settings.name, async (trx) => {
      await this.ctx.repos.servers.insert(trx, { id, nameKey: key, settings, now });
      await this.ctx.repos.audit.append(trx, {
        actor,
        action: 'mail_server.add',
        targetType: 'mail_server',
        targetId: id,
        targetName: settings.name,
        fields: changedFields({}, settings),
      });
    });
    return this.get(id);
  }

  async change(actor: string, id: string, body: unknown): Promise<MailServer> {
    const patch = validateSchema<MailServerPatch>(MailServerPatch, body);
    const current = await this.get(id);
    const issues: FieldIssue[] = [];
    const next = applyServerPatch(current, patch, issues);
    const key = nameKey(next.name);
    if (!issues.some((i) => i.path === 'name')) {
      const other = await this.ctx.repos.servers.findByNameKey(key);
      if (other && other.id !== id) issues.push({ path: 'name', key: 'validation.duplicateName', params: { name: next.name } });
    }
    // SMTP with each account's own user name and password: every account must have them (as
    // MailAccountService requires), or all its mail fails AUTH_FAILED and its bulk deliveries pause
    const ownCredentials = (auth: MailServer['outgoing']['auth']) => auth.mechanism !== null && !auth.useAccountCredentials;
    if (ownCredentials(next.outgoing.auth) && !ownCredentials(current.outgoing.auth)) {
      const missing = await this.ctx.repos.accounts.withoutSmtpCredentials(id);
      if (missing.length) {
        issues.push({ path: 'outgoing.auth.useAccountCredentials', key: 'validation.accountsWithoutSmtpCredentials', params: { accounts: missing.map((a) => a.address).join(', ') } });
      }
    }
    if (issues.length) throw new ValidationError(issues);
    const fields = changedFields({ name: current.name, incoming: current.incoming, outgoing: current.outgoing }, next);
    if (fields.length === 0) return current;
    await this.write(next.name, async (trx) => {
      await this.ctx.repos.servers.update(trx, id, key, next, new Date().toISOString());
      await this.ctx.repos.audit.append(trx, { actor, action: 'mail_server.change', targetType: 'mail_server', targetId: id, targetName: next.name, fields });
    });
    return this.get(id);
  }

  async reorder(actor: string, body: unknown): Promise<MailServer[]> {
    const { ids } = validateSchema<{ ids: string[] }>(ReorderInput, body);
    const all = await this.list();
    const others = all.filter((s) => !s.preset).map((s) => s.id);
    const presets = new Set(all.filter((s) => s.preset).map((s) => s.id));
    const seen = new Set<string>();
    const dup = new Set<string>();
    for (const id of ids) (seen.has(id) ? dup : seen).add(id);
    const issues: FieldIssue[] = [];
    const presetIds = ids.filter((id) => presets.has(id));
    const unknown = ids.filter((id) => !presets.has(id) && !others.includes(id));
    const missing = others.filter((id) => !seen.has(id));
    if (presetIds.length) issues.push({ path: 'ids', key: 'reorder.preset', params: { ids: [...new Set(presetIds)].join(', ') } });
    if (unknown.length) issues.push({ path: 'ids', key: 'reorder.unknown', params: { ids: [...new Set(unknown)].join(', ') } });
    if (dup.size) issues.push({ path: 'ids', key: 'reorder.duplicate', params: { ids: [...dup].join(', ') } });
    if (missing.length) issues.push({ path: 'ids', key: 'reorder.missing', params: { ids: missing.join(', ') } });
    if (issues.length) throw new ValidationError(issues);
    await this.ctx.db.transaction(async (trx) => {
      await this.ctx.repos.servers.reorder(trx, ids, new Date().toISOString());
      await this.ctx.repos.audit.append(trx, { actor, action: 'mail_server.reorder', targetType: 'mail_server', targetId: null, targetName: null, fields: ['position'] });
    });
    return this.list();
  }

  async delete(actor: string, id: string): Promise<void> {
    const server = await this.get(id);
    if (server.preset) throw new AppError('PRESET_IMMUTABLE', 'error.presetDelete');
    const users = await this.ctx.repos.accounts.usingServer(id);
    if (users.length) {
      throw new AppError('SERVER_IN_USE', 'error.serverInUse', { accounts: users.map((u) => u.address).join(', ') }, [], { accounts: users });
    }
    try {
      await this.ctx.db.transaction(async (trx) => {
        await this.ctx.repos.servers.delete(trx, id);
        await this.ctx.repos.audit.append(trx, { actor, action: 'mail_server.delete', targetType: 'mail_server', targetId: id, targetName: server.name, fields: [] });
      });
    } catch (err) {
      // an account was added meanwhile: the foreign key refused the delete
      if (!isForeignKeyViolation(err)) throw err;
      const now = await this.ctx.repos.accounts.usingServer(id);
      throw new AppError('SERVER_IN_USE', 'error.serverInUse', { accounts: now.map((u) => u.address).join(', ') }, [], { accounts: now });
    }
  }

  /** A unique-name race between two writers becomes the same field error. */
  private async write(name: string, fn: (trx: Transaction<Database>) => Promise<void>): Promise<void> {
    try {
      await this.ctx.db.transaction(fn);
    } catch (err) {
      if (isUniqueViolation(err)) throw new ValidationError([{ path: 'name', key: 'validation.duplicateName', params: { name } }]);
      throw err;
    }
  }
}

export const ReorderInput = Type.Object(
  { ids: Type.Array(Type.String({ maxLength: 200 }), { maxItems: 10_000 }) },
  { additionalProperties: false, $id: 'MailServerOrder' },
);
