import type { Change } from './invalidation-publisher';
import type { ErrorObserver } from './observers';

/**
 * Marks of committed writes whose invalidation may not be out yet, kept in the user's own
 * database. The write that changes a record sets its mark in the same atomic operation (so a
 * crash between the commit and the publish leaves the mark behind); the synced cache clears it
 * once the invalidation is published, and every replica's sweeper republishes marks left too long.
 */
export interface Outbox {
  /** Every mark, claimed or not, without touching it: writes that may still be unannounced. */
  pending(): Promise<Change[]>;
  /** Claims marks written before `olderThan` (epoch ms) for `leaseMs`, so that one replica republishes each. */
  claim(olderThan: number, leaseMs: number): Promise<Change[]>;
  /** The invalidation of this write is published: clear its mark. */
  settle(change: Change): Promise<void>;
  /** The writer could not publish: make the mark claimable by any replica at once. */
  expedite(change: Change): Promise<void>;
}

export interface OutboxObserver extends ErrorObserver {
  /** An invalidation whose writer never published it was published from the outbox. */
  onRepublished?(change: Change): void;
}

export interface OutboxSweeperOptions {
  outbox: Outbox;
  publish(change: Change): Promise<void>;
  /** A mark older than this is taken as orphaned: its writer died or could not publish. */
  ageMs: number;
  intervalMs: number;
  /** Only a replica connected to the bus claims marks: a cut-off one would hold them and fail. */
  canPublish(): boolean;
  /** Applies the invalidation here too: a replica does not receive its own messages. */
  evictLocally(change: Change): void;
  /** Where its events go: one observer (a synced cache's event channel). */
  events: OutboxObserver;
}

/**
 * Closes the crash-after-commit window: every replica looks for outbox marks left by writes whose
 * invalidation was never published, claims each (so one replica sends it), publishes it, and
 * clears the mark. Receivers evict by (id, version), so a repeat is harmless.
 */
export class OutboxSweeper {
  private timer?: NodeJS.Timeout;
  private running = false;

  constructor(private readonly options: OutboxSweeperOptions) {}

  start(): void {
    this.timer = setInterval(() => void this.sweep(), this.options.intervalMs).unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  async sweep(): Promise<number> {
    if (this.running || !this.options.canPublish()) return 0;
    this.running = true;
    const { outbox, ageMs } = this.options;
    let republished = 0;
    try {
      for (const change of await outbox.claim(Date.now() - ageMs, 2 * ageMs)) {
        this.options.evictLocally(change);
        await this.options.publish(change);
        await outbox.settle(change);
        this.options.events.onRepublished?.(change);
        republished += 1;
      }
    } catch (error) {
      this.options.events.onError?.(error as Error, 'outbox');
    } finally {
      this.running = false;
    }
    return republished;
  }
}
