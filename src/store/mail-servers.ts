// Mail server rows ↔ MailServer. Presets first (Gmail, Exchange Online), then the
// other servers by position.
import { sql, type Kysely, type Transaction } from 'kysely';
import type { MailServer } from '../domain/mail-server.ts';
import { PRESET_ORDER, type PresetKey } from '../domain/presets.ts';
import type { Database, MailServerTable } from './schema.ts';

type Q = Kysely<Database> | Transaction<Database>;

export function rowToServer(r: MailServerTable, position: number): MailServer {
  return {
    id: r.id,
    name: r.name,
    preset: (r.preset as PresetKey | null) ?? null,
    position,
    incoming: {
      protocol: r.incoming_protocol as MailServer['incoming']['protocol'],
      host: r.incoming_host,
      port: r.incoming_port,
      encryption: r.incoming_encryption as MailServer['incoming']['encryption'],
      apop: !!r.incoming_apop,
      maxMessageBytes: r.incoming_max_bytes === null ? null : Number(r.incoming_max_bytes),
      allowInvalidCertificate: !!r.incoming_allow_invalid_cert,
    },
    outgoing: {
      host: r.outgoing_host,
      port: r.outgoing_port,
      encryption: r.outgoing_encryption as MailServer['outgoing']['encryption'],
      auth: {
        mechanism: (r.outgoing_auth_mechanism as MailServer['outgoing']['auth']['mechanism']) ?? null,
        useAccountCredentials: !!r.outgoing_use_account_credentials,
      },
      maxMessageBytes: r.outgoing_max_bytes === null ? null : Number(r.outgoing_max_bytes),
      perMinuteLimit: r.outgoing_per_minute_limit === null ? null : Number(r.outgoing_per_minute_limit),
      allowInvalidCertificate: !!r.outgoing_allow_invalid_cert,
    },
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  };
}

export function settingsToRow(s: Pick<MailServer, 'name' | 'incoming' | 'outgoing'>) {
  return {
    name: s.name,
    incoming_protocol: s.incoming.protocol,
    incoming_host: s.incoming.host,
    incoming_port: s.incoming.port,
    incoming_encryption: s.incoming.encryption,
    incoming_apop: s.incoming.apop ? 1 : 0,
    incoming_max_bytes: s.incoming.maxMessageBytes,
    incoming_allow_invalid_cert: s.incoming.allowInvalidCertificate ? 1 : 0,
    outgoing_host: s.outgoing.host,
    outgoing_port: s.outgoing.port,
    outgoing_encryption: s.outgoing.encryption,
    outgoing_auth_mechanism: s.outgoing.auth.mechanism,
    outgoing_use_account_credentials: s.outgoing.auth.useAccountCredentials ? 1 : 0,
    outgoing_max_bytes: s.outgoing.maxMessageBytes,
    outgoing_per_minute_limit: s.outgoing.perMinuteLimit,
    outgoing_allow_invalid_cert: s.outgoing.allowInvalidCertificate ? 1 : 0,
  };
}

function sortRows(rows: MailServerTable[]): MailServerTable[] {
  const rank = (r: MailServerTable) => (r.preset ? PRESET_ORDER.indexOf(r.preset as PresetKey) : PRESET_ORDER.length);
  return rows.sort((a, b) => rank(a) - rank(b) || a.position - b.position || a.created_at.localeCompare(b.created_at));
}

export class MailServerRepository {
  constructor(private readonly db: Kysely<Database>) {}

  async list(q: Q = this.db): Promise<MailServer[]> {
    const rows = sortRows(await q.selectFrom('mail_servers').selectAll().execute());
    return rows.map((r, i) => rowToServer(r, i + 1));
  }

  async get(id: string, q: Q = this.db): Promise<MailServer | undefined> {
    return (await this.list(q)).find((s) => s.id === id);
  }

  async findByNameKey(key: string, q: Q = this.db): Promise<{ id: string } | undefined> {
    return q.selectFrom('mail_servers').select('id').where('name_key', '=', key).executeTakeFirst();
  }

  async insert(q: Q, row: { id: string; nameKey: string; settings: Pick<MailServer, 'name' | 'incoming' | 'outgoing'>; now: string }): Promise<void> {
    const max = await q
      .selectFrom('mail_servers')
      .select(sql<number>`coalesce(max(position), 0)`.as('max'))
      .where('preset', 'is', null)
      .executeTakeFirstOrThrow();
    await q
      .insertInto('mail_servers')
      .values({
        id: row.id,
        name_key: row.nameKey,
        preset: null,
        position: Number(max.max) + 1,
        ...settingsToRow(row.settings),
        created_at: row.now,
        updated_at: row.now,
      })
      .execute();
  }

  async update(q: Q, id: string, nameKey: string, settings: Pick<MailServer, 'name' | 'incoming' | 'outgoing'>, now: string): Promise<void> {
    await q
      .updateTable('mail_servers')
      .set({ ...settingsToRow(settings), name_key: nameKey, updated_at: now })
      .where('id', '=', id)
      .execute();
  }

  async delete(q: Q, id: string): Promise<void> {
    await q.deleteFrom('mail_servers').where('id', '=', id).where('preset', 'is', null).execute();
  }

  /** `ids` is the complete list of non-preset servers, already checked. */
  async reorder(q: Q, ids: string[], now: string): Promise<void> {
    for (const [i, id] of ids.entries()) {
      await q.updateTable('mail_servers').set({ position: i + 1, updated_at: now }).where('id', '=', id).execute();
    }
  }
}
