// The audit log: who changed what, when — field names only, never secret values.
import type { Kysely, Transaction } from 'kysely';
import { decodeCursor, encodeCursor } from './cursor.ts';
import { uuidv7 } from './ids.ts';
import type { Database } from './schema.ts';

type Q = Kysely<Database> | Transaction<Database>;

/** Every action the services record; each has its words in the UI's and the CLI's catalogues (test/ops/audit-labels.test.ts). */
export const AUDIT_ACTIONS = [
  'admin.create',
  'api_token.create',
  'api_token.revoke',
  'mail_server.add',
  'mail_server.change',
  'mail_server.reorder',
  'mail_server.delete',
  'mail_account.add',
  'mail_account.change',
  'mail_account.delete',
  'mail_account.oauth_connect',
  'oauth_provider.change',
  'delivery.create',
  'bulk_delivery.create',
  'bulk_delivery.pause',
  'bulk_delivery.resume',
  'bulk_delivery.cancel',
  'suppression.add',
  'suppression.remove',
  'settings.notifications',
] as const;
export type AuditAction = (typeof AUDIT_ACTIONS)[number];

export interface AuditEntry {
  id: string;
  at: string;
  actor: string;
  action: string;
  targetType: string;
  targetId: string | null;
  targetName: string | null;
  fields: string[];
}

export class AuditLogRepository {
  constructor(private readonly db: Kysely<Database>) {}

  async append(q: Q, e: Omit<AuditEntry, 'id' | 'at'> & { at?: string }): Promise<void> {
    await q
      .insertInto('audit_log')
      .values({
        id: uuidv7(),
        at: e.at ?? new Date().toISOString(),
        actor: e.actor,
        action: e.action,
        target_type: e.targetType,
        target_id: e.targetId,
        target_name: e.targetName,
        fields: JSON.stringify(e.fields),
      })
      .execute();
  }

  /** Newest first; `before` is the cursor of the last item of the previous page. */
  async list(opts: { limit: number; before?: string | undefined }): Promise<{ items: AuditEntry[]; nextCursor: string | null }> {
    let q = this.db.selectFrom('audit_log').selectAll().orderBy('at', 'desc').orderBy('id', 'desc').limit(opts.limit + 1);
    if (opts.before) {
      const [at, id] = decodeCursor(opts.before);
      q = q.where((eb) => eb.or([eb('at', '<', at), eb.and([eb('at', '=', at), eb('id', '<', id)])]));
    }
    const rows = await q.execute();
    const items = rows.slice(0, opts.limit).map((r) => ({
      id: r.id,
      at: r.at,
      actor: r.actor,
      action: r.action,
      targetType: r.target_type,
      targetId: r.target_id,
      targetName: r.target_name,
      fields: JSON.parse(r.fields) as string[],
    }));
    const last = items[items.length - 1];
    return { items, nextCursor: rows.length > opts.limit && last ? encodeCursor(last.at, last.id) : null };
  }
}
