// Leases: "only one holder at a time" for work shared by several processes (an
// account's receive run, later deliveries). One atomic statement on both engines:
// take the row if it is free, expired, or already ours.
import type { Kysely } from 'kysely';
import type { Database } from './schema.ts';

export class LeaseRepository {
  constructor(private readonly db: Kysely<Database>) {}

  async acquire(name: string, holder: string, ttlMs: number, now = new Date()): Promise<boolean> {
    const expires = new Date(now.getTime() + ttlMs).toISOString();
    const nowIso = now.toISOString();
    const r = await this.db
      .insertInto('leases')
      .values({ name, holder, expires_at: expires })
      .onConflict((oc) =>
        oc
          .column('name')
          .doUpdateSet({ holder, expires_at: expires })
          .where((eb) => eb.or([eb('leases.expires_at', '<', nowIso), eb('leases.holder', '=', holder)])),
      )
      .executeTakeFirst();
    return Number(r.numInsertedOrUpdatedRows ?? 0) > 0;
  }

  /** Extend a lease we hold; false if it was lost (expired and taken by another). */
  async renew(name: string, holder: string, ttlMs: number, now = new Date()): Promise<boolean> {
    const r = await this.db
      .updateTable('leases')
      .set({ expires_at: new Date(now.getTime() + ttlMs).toISOString() })
      .where('name', '=', name)
      .where('holder', '=', holder)
      .executeTakeFirst();
    return Number(r.numUpdatedRows) > 0;
  }

  async release(name: string, holder: string): Promise<void> {
    await this.db.deleteFrom('leases').where('name', '=', name).where('holder', '=', holder).execute();
  }

  async holderOf(name: string): Promise<{ holder: string; expiresAt: string } | undefined> {
    const r = await this.db.selectFrom('leases').select(['holder', 'expires_at']).where('name', '=', name).executeTakeFirst();
    return r ? { holder: r.holder, expiresAt: r.expires_at } : undefined;
  }
}
