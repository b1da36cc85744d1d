// Administrators, sessions and API tokens. Session ids and API tokens are stored
// as SHA-256 hashes only; administrators' passwords as argon2 hashes.
import { createHash, randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { AdminTable, Database } from './schema.ts';

export function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

export class AdminRepository {
  constructor(private readonly db: Kysely<Database>) {}

  async count(): Promise<number> {
    const r = await this.db.selectFrom('admins').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
    return Number(r.n);
  }

  async findByUsername(username: string): Promise<AdminTable | undefined> {
    return this.db.selectFrom('admins').selectAll().where('username_key', '=', username.trim().toLowerCase()).executeTakeFirst();
  }

  async get(id: string): Promise<AdminTable | undefined> {
    return this.db.selectFrom('admins').selectAll().where('id', '=', id).executeTakeFirst();
  }

  async insert(username: string, passwordHash: string): Promise<string> {
    const id = randomUUID();
    await this.db
      .insertInto('admins')
      .values({ id, username: username.trim(), username_key: username.trim().toLowerCase(), password_hash: passwordHash, language: null, created_at: new Date().toISOString() })
      .execute();
    return id;
  }

  async setLanguage(id: string, language: string): Promise<void> {
    await this.db.updateTable('admins').set({ language }).where('id', '=', id).execute();
  }
}

export class SessionRepository {
  constructor(private readonly db: Kysely<Database>) {}

  async get(sid: string): Promise<string | undefined> {
    const row = await this.db.selectFrom('sessions').select(['data', 'expires_at']).where('id_hash', '=', sha256(sid)).executeTakeFirst();
    if (!row) return undefined;
    if (row.expires_at < new Date().toISOString()) {
      await this.destroy(sid);
      return undefined;
    }
    return row.data;
  }

  async set(sid: string, data: string, expiresAt: string): Promise<void> {
    await this.db
      .insertInto('sessions')
      .values({ id_hash: sha256(sid), data, expires_at: expiresAt })
      .onConflict((oc) => oc.column('id_hash').doUpdateSet({ data, expires_at: expiresAt }))
      .execute();
  }

  async destroy(sid: string): Promise<void> {
    await this.db.deleteFrom('sessions').where('id_hash', '=', sha256(sid)).execute();
  }

  async purgeExpired(): Promise<void> {
    await this.db.deleteFrom('sessions').where('expires_at', '<', new Date().toISOString()).execute();
  }
}

export interface ApiTokenInfo {
  id: string;
  name: string;
  createdAt: string;
  lastUsedAt: string | null;
  revokedAt: string | null;
}

export class ApiTokenRepository {
  constructor(private readonly db: Kysely<Database>) {}

  async insert(name: string, token: string): Promise<string> {
    const id = randomUUID();
    await this.db
      .insertInto('api_tokens')
      .values({ id, name, token_hash: sha256(token), created_at: new Date().toISOString(), last_used_at: null, revoked_at: null })
      .execute();
    return id;
  }

  async findActiveByName(name: string): Promise<{ id: string } | undefined> {
    return this.db.selectFrom('api_tokens').select('id').where('name', '=', name).where('revoked_at', 'is', null).executeTakeFirst();
  }

  /** The token's name if it is valid (and not revoked); marks it used. */
  async verify(token: string): Promise<{ id: string; name: string } | undefined> {
    const row = await this.db
      .selectFrom('api_tokens')
      .select(['id', 'name', 'last_used_at'])
      .where('token_hash', '=', sha256(token))
      .where('revoked_at', 'is', null)
      .executeTakeFirst();
    if (!row) return undefined;
    const now = new Date();
    // write at most once a minute: a busy script must not turn every GET into a write
    if (!row.last_used_at || Date.parse(row.last_used_at) < now.getTime() - 60_000) {
      await this.db.updateTable('api_tokens').set({ last_used_at: now.toISOString() }).where('id', '=', row.id).execute();
    }
    return { id: row.id, name: row.name };
  }

  async list(): Promise<ApiTokenInfo[]> {
    const rows = await this.db.selectFrom('api_tokens').selectAll().orderBy('created_at').execute();
    return rows.map((r) => ({ id: r.id, name: r.name, createdAt: r.created_at, lastUsedAt: r.last_used_at, revokedAt: r.revoked_at }));
  }

  async revoke(name: string): Promise<boolean> {
    const r = await this.db
      .updateTable('api_tokens')
      .set({ revoked_at: new Date().toISOString() })
      .where('name', '=', name)
      .where('revoked_at', 'is', null)
      .executeTakeFirst();
    return Number(r.numUpdatedRows) > 0;
  }
}

export class SettingsRepository {
  constructor(private readonly db: Kysely<Database>) {}

  async get(key: string): Promise<string | undefined> {
    return (await this.db.selectFrom('settings').select('value').where('key', '=', key).executeTakeFirst())?.value;
  }

  async set(key: string, value: string): Promise<void> {
    await this.db
      .insertInto('settings')
      .values({ key, value })
      .onConflict((oc) => oc.column('key').doUpdateSet({ value }))
      .execute();
  }

  async delete(key: string): Promise<void> {
    await this.db.deleteFrom('settings').where('key', '=', key).execute();
  }
}
