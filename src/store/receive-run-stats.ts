// How long receive runs take, for every process on the database: each run adds itself to
// its outcome's bucket (one upsert), and /metrics reads the histogram back at scrape time.
// The rows hold per-bucket counts under the bounds' indexes, so RUN_DURATION_BUCKETS may
// only ever grow at the end (a bound changed in the middle would move old runs).
import { sql } from 'kysely';
import type { Db } from './database.ts';

/** Seconds: receive runs take from a fraction of a second (nothing new) to minutes (a backlog). */
export const RUN_DURATION_BUCKETS = [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600];

export type RunOutcome = 'ok' | 'failed';

export interface RunHistogram {
  outcome: RunOutcome;
  /** cumulative, one per bound of RUN_DURATION_BUCKETS (Prometheus' `le`) */
  cumulative: number[];
  count: number;
  sum: number;
}

/** Count one receive run. */
export async function recordReceiveRun(db: Db, outcome: RunOutcome, seconds: number): Promise<void> {
  const i = RUN_DURATION_BUCKETS.findIndex((b) => seconds <= b);
  const bucket = i === -1 ? RUN_DURATION_BUCKETS.length : i;
  await db.kysely
    .insertInto('receive_run_histogram')
    .values({ outcome, bucket, runs: 1, seconds_sum: seconds })
    .onConflict((oc) =>
      oc.columns(['outcome', 'bucket']).doUpdateSet({
        runs: sql`receive_run_histogram.runs + 1`,
        seconds_sum: sql`receive_run_histogram.seconds_sum + ${seconds}`,
      }),
    )
    .execute();
}

/** Every outcome that has runs, its buckets made cumulative. */
export async function readReceiveRunHistograms(db: Db): Promise<RunHistogram[]> {
  const rows = await db.kysely.selectFrom('receive_run_histogram').selectAll().orderBy('outcome').orderBy('bucket').execute();
  const by = new Map<RunOutcome, RunHistogram>();
  for (const r of rows) {
    const outcome = r.outcome as RunOutcome;
    let h = by.get(outcome);
    if (!h) by.set(outcome, (h = { outcome, cumulative: RUN_DURATION_BUCKETS.map(() => 0), count: 0, sum: 0 }));
    const runs = Number(r.runs);
    for (let b = Number(r.bucket); b < RUN_DURATION_BUCKETS.length; b++) h.cumulative[b]! += runs;
    h.count += runs;
    h.sum += Number(r.seconds_sum);
  }
  return [...by.values()];
}
