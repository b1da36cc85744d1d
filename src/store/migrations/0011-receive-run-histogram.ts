// Migration 11: the receive run durations of every process, so that /metrics on any `yubin
// serve` shows the runs of the `yubin worker` processes too (they have no HTTP port). One
// row per outcome and histogram bucket, counted up by each run (src/store/receive-run-stats.ts).
import type { Kysely } from 'kysely';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('receive_run_histogram')
    .addColumn('outcome', 'text', (c) => c.notNull())
    // the index of the first bucket bound the run's duration is within; the count of bounds for +Inf
    .addColumn('bucket', 'integer', (c) => c.notNull())
    .addColumn('runs', 'bigint', (c) => c.notNull())
    .addColumn('seconds_sum', 'double precision', (c) => c.notNull())
    .addPrimaryKeyConstraint('receive_run_histogram_pk', ['outcome', 'bucket'])
    .execute();
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('receive_run_histogram').execute();
}
