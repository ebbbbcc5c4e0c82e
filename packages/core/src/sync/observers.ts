/** What was under way when something failed: a publish, a heartbeat, the outbox, or the stale audit. */
export type FailedDuring = 'publish' | 'heartbeat' | 'outbox' | 'audit';

/** Failures that are counted and retried, never thrown at the caller's read or write. */
export interface ErrorObserver {
  /** `during` says what failed; the next heartbeat, sweep, write or check tries again. */
  onError?(error: Error, during: FailedDuring): void;
}
