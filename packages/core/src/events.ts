import type { GuardObserver, StaleReason } from './cache/guarded-load';
import type { CacheObserver, EvictionReason, Versioned } from './cache/local-cache';
import type { BulkMessage, Envelope, InvalidationMessage, RejectReason } from './sync/envelope';
import type { Change, PublishObserver } from './sync/invalidation-publisher';
import type { AppliedInvalidation, AppliedTagInvalidation, ReceiveObserver } from './sync/invalidation-subscriber';
import type { FailedDuring } from './sync/observers';
import type { OutboxObserver } from './sync/outbox-sweeper';
import type { Recovery, RecoveryObserver, SyncMode } from './sync/recovery';
import type { TopologyKind } from './sync/redis-topology';
import type { StaleObserver } from './sync/stale-audit';
import type { SubscriberState } from './sync/transport';

/** How a cache started, once: its configuration as a dashboard shows it. */
export interface Started {
  /** This replica's id: the one given, or the one generated for it. */
  replicaId: string;
  mode: SyncMode;
  signed: boolean;
  topology: TopologyKind | 'custom';
  size: () => number;
}

/** What the synced cache itself reports: its start and its subscriber. */
export interface SyncObserver {
  onStarted?(info: Started): void;
  /** The subscriber came up (on `node`, host:port) or went down. */
  onSubscriberState?(state: SubscriberState, node?: string): void;
}

/**
 * Every event of a synced cache, one method each (27): the cache (hits, misses, loads, fills,
 * evictions), fail-safe (stale values served on purpose, background loads), sending (published, receivers missing, members), receiving (messages, applied
 * invalidations, tag invalidations and clears, missed, rejected, implausible times, origins), recovery (trust, recoveries,
 * republished outbox marks), the stale audit (checked hits, stale windows, pending checks), and
 * `onError` for every failure that is retried rather than thrown. Implement the methods you need;
 * a plain object or a class instance is enough.
 */
export interface SyncedCacheObserver<V extends Versioned = Versioned>
  extends CacheObserver<V>,
    GuardObserver,
    PublishObserver,
    ReceiveObserver,
    RecoveryObserver,
    OutboxObserver,
    StaleObserver,
    SyncObserver {}

type Listeners<V extends Versioned> = { [E in keyof SyncedCacheObserver<V>]-?: SyncedCacheObserver<V>[] };

/** Whether `observer` has a method `name`: an own property or, for a class instance, on its prototypes. */
const hasMethod = (observer: object, name: string) => typeof (observer as Record<string, unknown>)[name] === 'function';

/**
 * The one event channel of a synced cache: every part (the cache, publisher, subscriber, recovery
 * policy, stale audit, outbox sweeper) is given it as its observer and calls its methods directly;
 * the policy, the metrics adapters, logs and users' observers listen. Each method calls the
 * listeners that have it, in the order they listened, as methods of their own (so `this` is the
 * listener), with the event's fixed arguments: no string dispatch, no rest array.
 */
export class EventChannel<V extends Versioned> implements Required<SyncedCacheObserver<V>> {
  private readonly to: Listeners<V> = {
    onHit: [],
    onMiss: [],
    onPut: [],
    onEvict: [],
    onFillRejected: [],
    onLoad: [],
    onServedStale: [],
    onBackgroundLoad: [],
    onPublished: [],
    onReceiversMissing: [],
    onMembership: [],
    onMessage: [],
    onRejected: [],
    onMissed: [],
    onInvalidation: [],
    onTagInvalidation: [],
    onImplausibleTime: [],
    onOrigins: [],
    onTrustChanged: [],
    onRecovery: [],
    onRepublished: [],
    onHitChecked: [],
    onHitUnacknowledged: [],
    onStaleWindow: [],
    onChecksPending: [],
    onError: [],
    onStarted: [],
    onSubscriberState: [],
  };

  /** The channel, as the observer every part emits into. */
  get emit(): SyncedCacheObserver<V> {
    return this;
  }

  /** Adds a listener: from now on it hears every event it has a method for. */
  listen(observer: SyncedCacheObserver<V>): void {
    for (const [name, list] of Object.entries(this.to) as [string, SyncedCacheObserver<V>[]][])
      if (hasMethod(observer, name)) list.push(observer);
  }

  onHit(key: string, value: V): void {
    for (const o of this.to.onHit) o.onHit!(key, value);
  }

  onMiss(key: string): void {
    for (const o of this.to.onMiss) o.onMiss!(key);
  }

  onPut(key: string, value: V): void {
    for (const o of this.to.onPut) o.onPut!(key, value);
  }

  onEvict(key: string, value: V, reason: EvictionReason): void {
    for (const o of this.to.onEvict) o.onEvict!(key, value, reason);
  }

  onFillRejected(key: string, value: V): void {
    for (const o of this.to.onFillRejected) o.onFillRejected!(key, value);
  }

  onLoad(key: string, shared: boolean): void {
    for (const o of this.to.onLoad) o.onLoad!(key, shared);
  }

  onServedStale(key: string, reason: StaleReason, ageMs: number): void {
    for (const o of this.to.onServedStale) o.onServedStale!(key, reason, ageMs);
  }

  onBackgroundLoad(
    key: string,
    outcome: 'started' | 'cached' | 'discarded' | 'failed',
    cause: 'soft_timeout' | 'refresh',
  ): void {
    for (const o of this.to.onBackgroundLoad) o.onBackgroundLoad!(key, outcome, cause);
  }

  onPublished(message: InvalidationMessage | BulkMessage, delivered: number, traceId: string | undefined): void {
    for (const o of this.to.onPublished) o.onPublished!(message, delivered, traceId);
  }

  onReceiversMissing(missing: number): void {
    for (const o of this.to.onReceiversMissing) o.onReceiversMissing!(missing);
  }

  onMembership(liveMembers: number): void {
    for (const o of this.to.onMembership) o.onMembership!(liveMembers);
  }

  onMessage(message: Envelope): void {
    for (const o of this.to.onMessage) o.onMessage!(message);
  }

  onRejected(reason: RejectReason, detail: string): void {
    for (const o of this.to.onRejected) o.onRejected!(reason, detail);
  }

  onMissed(count: number, origin: string): void {
    for (const o of this.to.onMissed) o.onMissed!(count, origin);
  }

  onInvalidation(applied: AppliedInvalidation): void {
    for (const o of this.to.onInvalidation) o.onInvalidation!(applied);
  }

  onTagInvalidation(applied: AppliedTagInvalidation): void {
    for (const o of this.to.onTagInvalidation) o.onTagInvalidation!(applied);
  }

  onImplausibleTime(field: 'published_at' | 'committed_at', detail: string): void {
    for (const o of this.to.onImplausibleTime) o.onImplausibleTime!(field, detail);
  }

  onOrigins(count: number): void {
    for (const o of this.to.onOrigins) o.onOrigins!(count);
  }

  onTrustChanged(trusted: boolean): void {
    for (const o of this.to.onTrustChanged) o.onTrustChanged!(trusted);
  }

  onRecovery(recovery: Recovery): void {
    for (const o of this.to.onRecovery) o.onRecovery!(recovery);
  }

  onRepublished(change: Change): void {
    for (const o of this.to.onRepublished) o.onRepublished!(change);
  }

  onHitChecked(stale: boolean, ageSeconds?: number): void {
    for (const o of this.to.onHitChecked) o.onHitChecked!(stale, ageSeconds);
  }

  onHitUnacknowledged(ageSeconds: number): void {
    for (const o of this.to.onHitUnacknowledged) o.onHitUnacknowledged!(ageSeconds);
  }

  onStaleWindow(seconds: number): void {
    for (const o of this.to.onStaleWindow) o.onStaleWindow!(seconds);
  }

  onChecksPending(change: 1 | -1): void {
    for (const o of this.to.onChecksPending) o.onChecksPending!(change);
  }

  onError(error: Error, during: FailedDuring): void {
    for (const o of this.to.onError) o.onError!(error, during);
  }

  onStarted(info: Started): void {
    for (const o of this.to.onStarted) o.onStarted!(info);
  }

  onSubscriberState(state: SubscriberState, node?: string): void {
    for (const o of this.to.onSubscriberState) o.onSubscriberState!(state, node);
  }
}
