// When is an account stalled (PRODUCT issue 6 §4)? Its last successful receive is older
// than three of its intervals (an account never received successfully counts from its
// creation), or its last five runs in a row failed. A disabled account is never stalled.
// One pure function, so the monitor, the status and the tests agree.
import type { MailAccountTable } from '../store/schema.ts';

/** Intervals without a successful receive before an account is stalled. */
export const STALL_INTERVALS = 3;
/** Failed runs in a row before an account is stalled. */
export const STALL_FAILURES = 5;

export type StallReason = 'no_success' | 'failures';

export interface Stall {
  since: string;
  reason: StallReason;
}

type StallInputs = Pick<MailAccountTable, 'enabled' | 'receive_interval_minutes' | 'last_success_at' | 'last_run_at' | 'consecutive_failures' | 'created_at'>;

export function stallOf(row: StallInputs, now: Date): Stall | null {
  if (!Number(row.enabled)) return null;
  const staleAt = Date.parse(row.last_success_at ?? row.created_at) + STALL_INTERVALS * Number(row.receive_interval_minutes) * 60_000;
  if (staleAt <= now.getTime()) return { since: new Date(staleAt).toISOString(), reason: 'no_success' };
  if (Number(row.consecutive_failures) >= STALL_FAILURES) return { since: row.last_run_at ?? now.toISOString(), reason: 'failures' };
  return null;
}
