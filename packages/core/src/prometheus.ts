/**
 * Prometheus metrics for a synced cache, for users of prom-client (an optional peer dependency):
 * `const metrics = registerSyncedCacheMetrics(registry, { cache: 'book' })`, then
 * `createSyncedCache({ ..., observers: [metrics.observer] })`.
 *
 * @packageDocumentation
 */
export {
  type AnyRegistry,
  LAG_BUCKETS,
  RECENT_LAG_SECONDS,
  registerSyncedCacheMetrics,
  STALE_WINDOW_BUCKETS,
  type SyncedCacheMetrics,
} from './prometheus/metrics';
export { nearestRank, RecentSamples } from './prometheus/recent-samples';
