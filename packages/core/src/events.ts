import type { CacheObserver, Versioned } from './cache/local-cache';
import type { Change, PublishObserver } from './sync/invalidation-publisher';
import type { ReceiveObserver } from './sync/invalidation-subscriber';
import type { RecoveryReason, SyncMode } from './sync/recovery';
import type { TopologyKind } from './sync/redis-topology';
import type { StaleObserver } from './sync/stale-audit';
import type { SubscriberState } from './sync/transport';

/** What the synced cache itself reports: its start, trust, recoveries and the outbox. */
export interface SyncObserver {
  /** Once, when the cache has started: how it was configured. */
  onStarted?(info: {
    /** This replica's id: the one given, or the one generated for it. */
    replicaId: string;
    mode: SyncMode;
    signed: boolean;
    topology: TopologyKind | 'custom';
    size: () => number;
  }): void;
  /** The subscriber came up (on `node`, host:port) or went down. */
  onSubscriberState?(state: SubscriberState, node?: string): void;
  /** The cache became untrusted (reads bypass it) or trusted again after a recovery. */
  onTrustChanged?(trusted: boolean): void;
  onRecovered?(reason: RecoveryReason, ms: number): void;
  onRecoveryFailed?(reason: RecoveryReason, error: Error): void;
  /** Missed invalidations applied by one replay (stream mode). */
  onReplayed?(applied: number): void;
  /** The stream log was trimmed past where a replay had to start: the cache was flushed instead. */
  onLogTooShort?(sinceMs: number): void;
  /** An invalidation whose writer never published it was published from the outbox. */
  onRepublished?(change: Change): void;
  /** The outbox could not be read, claimed or cleared; the next sweep or write tries again. */
  onOutboxError?(error: Error): void;
}

/** Every event of a synced cache: implement the methods you need (a plain object is enough). */
export type SyncedCacheObserver<V extends Versioned = Versioned> = CacheObserver<V> &
  ReceiveObserver &
  PublishObserver &
  StaleObserver &
  SyncObserver;
