/**
 * Local in-memory caches on many replicas, kept in sync by invalidation messages over Redis, with
 * every lost message counted. Start with {@link createSyncedCache}.
 *
 * @packageDocumentation
 */
export { type CacheObserver, EVICTION_REASONS, type EvictionReason, type Versioned } from './cache/local-cache';
export { preciseNow } from './sync/clock';
export {
  type BatchMessage,
  type Envelope,
  type HeartbeatMessage,
  type InvalidationMessage,
  REJECT_REASONS,
  type RejectReason,
} from './sync/envelope';
export type { Change, PublishObserver } from './sync/invalidation-publisher';
export type { AppliedInvalidation, ReceiveObserver } from './sync/invalidation-subscriber';
export type { Outbox } from './sync/outbox-sweeper';
export { type RecoveryReason, SYNC_MODES, type SyncMode } from './sync/recovery';
export {
  channelKeys,
  commandClient,
  parseNodes,
  type RedisNode,
  type RedisTopology,
  TOPOLOGIES,
  type TopologyKind,
} from './sync/redis-topology';
export { RedisTransport, type RedisTransportOptions } from './sync/redis-transport';
export { parseSigningKeys, type SigningKey } from './sync/signing';
export type { StaleObserver, WrittenAfter } from './sync/stale-audit';
export type {
  InvalidationLog,
  InvalidationTransport,
  MembershipRegistry,
  SubscriberState,
  SubscriberStateListener,
} from './sync/transport';
export {
  createSyncedCache,
  type Loaded,
  SyncedCache,
  type SyncedCacheObserver,
  type SyncedCacheOptions,
  type SyncObserver,
} from './synced-cache';
