// When an account is received next: one interval after the run started, or — when its
// server keeps failing — longer and longer (2, 4, 8 … intervals, at most an hour unless
// the interval itself is longer), so a dead server is not hammered and does not take
// worker slots from the accounts that work. Its status shows `backoffUntil`.

/** Longest wait after repeated failures. */
export const MAX_FAILURE_BACKOFF = 60 * 60_000;

/** Milliseconds from a run's start to the next one, given the failures in a row so far. */
export function nextRunDelay(intervalMinutes: number, consecutiveFailures: number): number {
  const base = intervalMinutes * 60_000;
  if (consecutiveFailures <= 1) return base;
  return Math.min(base * 2 ** Math.min(consecutiveFailures - 1, 10), Math.max(base, MAX_FAILURE_BACKOFF));
}

/** Whether the account now waits longer than its interval because of failures. */
export function inBackoff(consecutiveFailures: number): boolean {
  return consecutiveFailures > 1;
}
