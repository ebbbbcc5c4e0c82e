import type { Logger } from 'pino';
import type { BookRepository, OutboxEntry } from './book-repository';
import type { ChangePublisher } from './book-service';
import { keysOf } from './keys';

export interface OutboxSweeperOptions {
  repository: BookRepository;
  publisher: ChangePublisher;
  logger: Logger;
  /** A mark older than this is taken as orphaned: its writer died or could not publish. */
  ageMs: number;
  intervalMs: number;
  /** Only a replica connected to the bus claims marks: a cut-off one would hold them and fail. */
  canPublish(): boolean;
  /** Applies the invalidation here too: a replica does not receive its own messages. */
  evictLocally(keys: string[], id: string, version: number): void;
  onRepublished?(entry: OutboxEntry): void;
}

/** Every cache key an outbox entry's write may have left stale. */
export const outboxKeys = (entry: OutboxEntry) => keysOf(entry.id, entry.names);

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
    const { repository, publisher, logger, ageMs } = this.options;
    let republished = 0;
    try {
      for (const entry of await repository.claimOutbox(Date.now() - ageMs, 2 * ageMs)) {
        const keys = outboxKeys(entry);
        this.options.evictLocally(keys, entry.id, entry.version);
        await publisher.publish({ keys, id: entry.id, version: entry.version, op: entry.op, committedAt: entry.at });
        await repository.settleOutbox(entry.id, entry.version, entry.op);
        this.options.onRepublished?.(entry);
        republished += 1;
      }
    } catch (error) {
      logger.debug({ err: error }, 'outbox sweep failed; the next one retries');
    } finally {
      this.running = false;
    }
    return republished;
  }
}
