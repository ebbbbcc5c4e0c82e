import type { LocalCache, Versioned } from '../cache/local-cache';
import { preciseNow } from './clock';
import {
  type BatchMessage,
  type CacheScope,
  decodeEnvelope,
  type Envelope,
  type InvalidationMessage,
  invalidationsOf,
  isHeartbeat,
  type RejectReason,
} from './envelope';
import { GapDetector } from './gap-detector';
import { MessagingAttributes, recordedTraceId, withConsumerSpan } from './message-spans';
import { combineObservers } from './observers';

export interface ReceiveObserver {
  /** Any valid message from a peer arrived (heartbeats included). */
  onMessage?(message: Envelope): void;
  onRejected?(reason: RejectReason, detail: string): void;
  /** A sequence gap from `origin`: `count` messages were sent and never arrived. */
  onMissed?(count: number, origin: string): void;
  onInvalidation?(applied: AppliedInvalidation): void;
}

export interface AppliedInvalidation {
  message: InvalidationMessage;
  evictedKeys: number;
  /** From the sender's publishedAt to the eviction here, in seconds. */
  lagSeconds: number;
  /** From the write's commit to the moment this replica stopped serving older versions, in seconds. */
  staleWindowSeconds: number;
  traceId: string | undefined;
}

export interface InvalidationSubscriberOptions<V extends Versioned> {
  cache: LocalCache<V>;
  /** Which messages this cache accepts: its name and key scheme. */
  scope: CacheScope;
  channel: string;
  selfOrigin: string;
  observer?: ReceiveObserver;
}

/** Applies invalidation messages to the local cache. Never throws, whatever arrives on the channel. */
export class InvalidationSubscriber<V extends Versioned> {
  private readonly gaps = new GapDetector();
  private observer: ReceiveObserver;
  /** Ids (origin/epoch/seq) of recently applied invalidations, so a replay applies only what was missed. */
  private readonly applied = new Set<string>();
  /** publishedAt of the newest invalidation applied: where a replay of the log starts. */
  lastAppliedPublishedAt = 0;

  constructor(private readonly options: InvalidationSubscriberOptions<V>) {
    this.observer = options.observer ?? {};
  }

  /** Adds an observer; every observer hears every event. */
  observe(observer: ReceiveObserver): void {
    this.observer = combineObservers(this.observer, observer);
  }

  readonly handle = (raw: string): void => {
    try {
      this.receive(raw);
    } catch (error) {
      // A bug in handling must not take down the replica; count it as a rejection.
      this.observer.onRejected?.('invalid_envelope', `handler failed: ${(error as Error).message}`);
    }
  };

  /**
   * Applies one entry replayed from the log if it was missed (stream mode); returns whether it
   * was applied. Replays do not touch the gap detector: missed counts what Pub/Sub lost.
   */
  replay(raw: string): boolean {
    const decoded = decodeEnvelope(raw, this.options.scope);
    if (!decoded.ok || isHeartbeat(decoded.message) || decoded.message.origin === this.options.selfOrigin) return false;
    if (this.applied.has(messageId(decoded.message))) return false;
    this.apply(decoded.message);
    return true;
  }

  private receive(raw: string): void {
    const decoded = decodeEnvelope(raw, this.options.scope);
    if (!decoded.ok) {
      this.observer.onRejected?.(decoded.reason, decoded.detail);
      return;
    }
    const message = decoded.message;
    if (message.origin === this.options.selfOrigin) return;

    const sequence = this.gaps.observe(message.origin, message.epoch, message.seq);
    if (sequence.duplicate) {
      this.observer.onRejected?.('duplicate', `${message.origin}/${message.epoch} seq ${message.seq}`);
      return;
    }
    if (sequence.missed > 0) this.observer.onMissed?.(sequence.missed, message.origin);
    this.observer.onMessage?.(message);
    if (!isHeartbeat(message)) this.apply(message);
  }

  /** Applies a plain or coalesced invalidation message inside one CONSUMER span. */
  private apply(message: InvalidationMessage | BatchMessage): void {
    const { cache, channel } = this.options;
    this.remember(message);
    const invalidations = invalidationsOf(message);
    withConsumerSpan(
      channel,
      message,
      {
        [MessagingAttributes.MESSAGE_ID]: `${message.origin}/${message.epoch}/${message.seq}`,
        [MessagingAttributes.CONSUMER_GROUP]: this.options.selfOrigin,
        ...(invalidations.length > 1 ? { [MessagingAttributes.BATCH_MESSAGE_COUNT]: invalidations.length } : {}),
        'cache.name': message.cache,
        'cache.keys.count': invalidations.reduce((n, i) => n + i.keys.length, 0),
      },
      (span) => {
        let evictedInMessage = 0;
        const traceId = recordedTraceId(span);
        for (const invalidation of invalidations) {
          let evictedKeys = 0;
          for (const key of invalidation.keys) {
            if (cache.evictOlderThan(key, invalidation.id, invalidation.version, 'invalidation')) evictedKeys += 1;
          }
          evictedInMessage += evictedKeys;
          const now = preciseNow();
          this.observer.onInvalidation?.({
            message: invalidation,
            evictedKeys,
            lagSeconds: Math.max(0, now - invalidation.publishedAt) / 1000,
            staleWindowSeconds: Math.max(0, now - invalidation.committedAt) / 1000,
            traceId,
          });
        }
        span.setAttribute('cache.evicted.count', evictedInMessage);
      },
    );
  }

  private remember(message: InvalidationMessage | BatchMessage): void {
    this.applied.add(messageId(message));
    if (this.applied.size > APPLIED_KEPT) this.applied.delete(this.applied.values().next().value as string);
    this.lastAppliedPublishedAt = Math.max(this.lastAppliedPublishedAt, message.publishedAt);
  }
}

const APPLIED_KEPT = 100_000;
const messageId = (m: { origin: string; epoch: string; seq: number }) => `${m.origin}/${m.epoch}/${m.seq}`;
