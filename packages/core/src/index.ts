/**
 * Local in-memory caches on many replicas, kept in sync by invalidation messages over Redis, with
 * every lost message counted. Start with {@link createSyncedCache}.
 *
 * @packageDocumentation
 */
export { LoadTimeoutError, type Stale, type StaleReason } from './cache/guarded-load';
export type { Versioned } from './cache/local-cache';
export type { SyncedCacheObserver } from './events';
export type { SyncedCacheOptions } from './options';
export type { Change } from './sync/invalidation-publisher';
export type { Outbox } from './sync/outbox-sweeper';
export { SYNC_MODES, type SyncMode } from './sync/recovery';
export type { RedisTopology, TopologyKind } from './sync/redis-topology';
export type { WrittenAfter } from './sync/stale-audit';
export {
  type Announced,
  createSyncedCache,
  type GetOrLoadOptions,
  type Loaded,
  type SyncedCache,
} from './synced-cache';
