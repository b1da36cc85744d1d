// The suppression list (配信停止): addresses that bulk deliveries skip (and report as
// skipped). Single sends are not affected: a person asked not to get bulk mail, not to be
// unreachable.
import { ValidationError, type FieldIssue } from '../domain/errors.ts';
import { CONTROL_CHARS, validateSchema } from '../domain/validation.ts';
import type { AppContext } from '../services/context.ts';
import { normalizeRecipient, recipientKey } from './address.ts';
import { SuppressionInput, type Suppression } from './schemas.ts';

export class SuppressionService {
  constructor(private readonly ctx: AppContext) {}

  async list(opts: { limit?: number | undefined; cursor?: string | undefined } = {}): Promise<{ items: Suppression[]; nextCursor: string | null }> {
    const limit = opts.limit ?? 100;
    const rows = await this.ctx.repos.deliveries.listSuppressions({ limit: limit + 1, after: opts.cursor });
    const items = rows.slice(0, limit);
    const last = items[items.length - 1];
    return { items, nextCursor: rows.length > limit && last ? recipientKey(last.address) : null };
  }

  async add(actor: string, body: unknown): Promise<{ added: number; alreadyListed: number }> {
    const input = validateSchema<SuppressionInput>(SuppressionInput, body);
    const issues: FieldIssue[] = [];
    const list = new Map<string, string>();
    input.addresses.forEach((raw, i) => {
      const address = normalizeRecipient(raw);
      if (!address) issues.push({ path: `addresses.${i}`, key: 'send.address', params: { address: raw } });
      else if (!list.has(recipientKey(address))) list.set(recipientKey(address), address);
    });
    const reason = input.reason?.trim() || null;
    if (reason && CONTROL_CHARS.test(reason)) issues.push({ path: 'reason', key: 'validation.controlChars' });
    if (issues.length) throw new ValidationError(issues);
    const repo = this.ctx.repos.deliveries;
    // addresses on the list already are kept as they were (reason, date), and not counted
    const added = await repo.write(async (trx) => {
      const n = await repo.addSuppressions(trx, [...list].map(([key, address]) => ({ key, address })), reason, actor, new Date().toISOString());
      await this.ctx.repos.audit.append(trx, { actor, action: 'suppression.add', targetType: 'suppression', targetId: null, targetName: `${n} addresses`, fields: ['addresses'] });
      return n;
    });
    return { added, alreadyListed: list.size - added };
  }

  async remove(actor: string, addresses: string[]): Promise<{ removed: number }> {
    const keys = [...new Set(addresses.map((a) => recipientKey(normalizeRecipient(a) ?? a)))];
    const repo = this.ctx.repos.deliveries;
    return repo.write(async (trx) => {
      const removed = await repo.removeSuppressions(trx, keys);
      await this.ctx.repos.audit.append(trx, { actor, action: 'suppression.remove', targetType: 'suppression', targetId: null, targetName: `${removed} addresses`, fields: ['addresses'] });
      return { removed };
    });
  }
}
