/**
 * For tests and benchmarks: an in-process bus with Redis Pub/Sub's semantics (fire-and-forget,
 * delivered to current subscribers only), `createSyncedCache({ bus: { transport: bus.transport() }, ... })`;
 * hooks into a running cache; and the parts a benchmark measures alone. No stability promise
 * beyond the root entry point's.
 *
 * @packageDocumentation
 */
import type { Versioned } from './cache/local-cache';
import { type SyncedCache, testHooks } from './synced-cache';

export { type Fallback, Fallbacks, type FallbacksOptions } from './cache/fallbacks';
export { type Load, LocalCache, type LocalCacheOptions, type Tags } from './cache/local-cache';
export { EventChannel } from './events';
export { InvalidationPublisher, type InvalidationPublisherOptions } from './sync/invalidation-publisher';
export { InvalidationSubscriber, type InvalidationSubscriberOptions } from './sync/invalidation-subscriber';
export { MemoryBus, MemoryTransport } from './sync/memory-transport';

const publisherOf = <V extends Versioned>(cache: SyncedCache<V>) => {
  const publisher = testHooks.get(cache);
  if (!publisher) throw new TypeError('not a cache made by createSyncedCache');
  return publisher;
};

/** Stops the cache's heartbeats, staying a member: to its peers it looks like a paused process. */
export function stopHeartbeats<V extends Versioned>(cache: SyncedCache<V>): void {
  publisherOf(cache).stopHeartbeats();
}

/** Heartbeats again, after {@link stopHeartbeats}. */
export function startHeartbeats<V extends Versioned>(cache: SyncedCache<V>): void {
  publisherOf(cache).startHeartbeats();
}

/** The cache's sequence epoch for this process: the envelope's `epoch` of its messages. */
export function epochOf<V extends Versioned>(cache: SyncedCache<V>): string {
  return publisherOf(cache).epoch;
}
