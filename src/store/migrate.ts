// One migration set for both engines, numbered files under ./migrations.
import { Migrator, type Migration, type MigrationProvider } from 'kysely';
import type { Db } from './database.ts';
import * as m0001 from './migrations/0001-initial.ts';
import * as m0002 from './migrations/0002-receiving.ts';
import * as m0003 from './migrations/0003-sending.ts';
import * as m0004 from './migrations/0004-oauth.ts';
import * as m0005 from './migrations/0005-operations.ts';
import * as m0006 from './migrations/0006-scale.ts';
import * as m0007 from './migrations/0007-stored-bulk-mail.ts';
import * as m0008 from './migrations/0008-claim-by-bulk.ts';
import * as m0009 from './migrations/0009-stale-by-bulk.ts';
import * as m0010 from './migrations/0010-pause-error.ts';
import * as m0011 from './migrations/0011-receive-run-histogram.ts';
import * as m0012 from './migrations/0012-bulk-reply-to.ts';

const MIGRATIONS: Record<string, Migration> = {
  '0001-initial': m0001,
  '0002-receiving': m0002,
  '0003-sending': m0003,
  '0004-oauth': m0004,
  '0005-operations': m0005,
  '0006-scale': m0006,
  '0007-stored-bulk-mail': m0007,
  '0008-claim-by-bulk': m0008,
  '0009-stale-by-bulk': m0009,
  '0010-pause-error': m0010,
  '0011-receive-run-histogram': m0011,
  '0012-bulk-reply-to': m0012,
};

class StaticProvider implements MigrationProvider {
  async getMigrations(): Promise<Record<string, Migration>> {
    return MIGRATIONS;
  }
}

export async function migrateToLatest(db: Db): Promise<string[]> {
  const migrator = new Migrator({ db: db.kysely, provider: new StaticProvider() });
  const { error, results } = await migrator.migrateToLatest();
  if (error) throw error;
  return (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
}

export async function pendingMigrations(db: Db): Promise<string[]> {
  const migrator = new Migrator({ db: db.kysely, provider: new StaticProvider() });
  const all = await migrator.getMigrations();
  return all.filter((m) => !m.executedAt).map((m) => m.name);
}

/** Every migration this version knows, in order. */
export function knownMigrations(): string[] {
  return Object.keys(MIGRATIONS).sort();
}
