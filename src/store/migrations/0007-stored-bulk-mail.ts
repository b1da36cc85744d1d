// Migration 7: sent bulk mail stored as a recipe. The mails of one bulk delivery share almost
// all their bytes (the templates' text); each is stored as references to those shared
// segments (delivery_bases, once per bulk delivery and template encoding) and its own bytes
// (delivery_recipes: the header and the field values, a few hundred bytes instead of the
// whole mail). store/delivery-raw.ts reads and writes the format; the bytes put back
// together are exactly those sent. Mail that is not built from segments (single sends,
// encoded bodies) keeps its raw chunks in delivery_chunks.
import { PostgresAdapter, sql, type Kysely } from 'kysely';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function up(db: Kysely<any>): Promise<void> {
  const blobType = db.getExecutor().adapter instanceof PostgresAdapter ? sql`bytea` : sql`blob`;
  await db.schema
    .createTable('delivery_bases')
    .addColumn('bulk_id', 'text', (c) => c.notNull().references('bulk_deliveries.id').onDelete('cascade'))
    // SHA-256 of the segments: every worker composing the same templates writes the same row
    .addColumn('id', 'text', (c) => c.notNull())
    .addColumn('data', blobType, (c) => c.notNull())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('delivery_bases_pk', ['bulk_id', 'id'])
    .execute();
  await db.schema
    .createTable('delivery_recipes')
    .addColumn('delivery_id', 'text', (c) => c.primaryKey().references('deliveries.id').onDelete('cascade'))
    .addColumn('bulk_id', 'text', (c) => c.notNull())
    .addColumn('base_id', 'text', (c) => c.notNull())
    .addColumn('data', blobType, (c) => c.notNull())
    .addForeignKeyConstraint('delivery_recipes_base', ['bulk_id', 'base_id'], 'delivery_bases', ['bulk_id', 'id'], (fk) => fk.onDelete('cascade'))
    .execute();
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('delivery_recipes').execute();
  await db.schema.dropTable('delivery_bases').execute();
}
