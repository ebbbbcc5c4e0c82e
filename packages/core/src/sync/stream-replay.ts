import type { LocalCache, Versioned } from '../cache/local-cache';
import type { InvalidationSubscriber } from './invalidation-subscriber';
import type { RecoveryDone } from './recovery';
import type { InvalidationLog } from './transport';

/** A write this replica may have missed: evict its keys if they hold an older version of the record. */
export interface MissedWrite {
  keys: string[];
  id: string;
  version: number;
}

/** Applies a write this replica did not hear about as if its invalidation had arrived. */
export function evictWrite<V extends Versioned>(cache: LocalCache<V>, { keys, id, version }: MissedWrite): void {
  for (const key of keys) cache.evictOlderThan(key, id, version, 'invalidation');
}

export interface StreamReplayOptions<V extends Versioned> {
  log: InvalidationLog;
  subscriber: InvalidationSubscriber<V>;
  cache: LocalCache<V>;
  /**
   * Writes committed but whose publish failed (Redis was away, their replica died): they never
   * reached the log, and their outbox marks name them until a sweeper republishes them.
   */
  unpublished(): Promise<MissedWrite[]>;
  /** Replays reach this far before their starting point (clock skew between hosts, messages in flight). */
  lookBackMs?: number;
}

/**
 * Stream mode's recovery: applies exactly the invalidations missed since the cache stopped being
 * trusted, from the capped log that every publish is appended to; flushes if the log no longer
 * reaches back that far.
 */
export class StreamReplay<V extends Versioned> {
  private readonly startedAt = Date.now();
  /**
   * Where the next replay starts: the newest message applied when the cache stopped being trusted.
   * Not the newest applied now: messages that arrive live after a reconnect, before the replay
   * runs, are newer than the ones the outage lost.
   */
  private from?: number;

  constructor(private readonly options: StreamReplayOptions<V>) {}

  /** The cache has just stopped being trusted: hold the replay's starting point here. */
  trustLost(): void {
    this.from ??= this.options.subscriber.lastAppliedPublishedAt;
    this.options.subscriber.holdApplied();
  }

  /** Replays what was missed; says how many entries it applied, or that the log was too short and it flushed. */
  async run(): Promise<RecoveryDone> {
    const from = this.from ?? this.options.subscriber.lastAppliedPublishedAt;
    this.from = undefined;
    try {
      // Entries older than this process were never in its cache; those already applied are skipped by id.
      const done = await this.replaySince(Math.max(from, this.startedAt) - (this.options.lookBackMs ?? 2000));
      this.options.subscriber.releaseApplied();
      return done;
    } catch (error) {
      this.from = Math.min(from, this.from ?? from);
      throw error;
    }
  }

  private async replaySince(since: number): Promise<RecoveryDone> {
    const { log, subscriber, cache } = this.options;
    const { payloads, reachesBack } = await log.readSince(since);
    if (!reachesBack) {
      cache.flush('flush');
      return { action: 'flushed', logTooShort: true };
    }
    let applied = 0;
    for (const payload of payloads) {
      const outcome = subscriber.replay(payload);
      if (outcome === 'applied') applied += 1;
      else if (outcome === 'not_understood') {
        // A newer sender's message (a kind this version cannot apply) was missed: only a flush covers it.
        cache.flush('flush');
        return { action: 'flushed', notUnderstood: true };
      }
    }
    for (const write of await this.options.unpublished()) {
      evictWrite(cache, write);
      applied += 1;
    }
    return { action: 'replayed', replayed: applied };
  }
}
