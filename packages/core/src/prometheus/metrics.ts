import {
  Counter,
  Gauge,
  Histogram,
  type OpenMetricsContentType,
  type PrometheusContentType,
  Registry,
} from 'prom-client';
import { STALE_REASONS } from '../cache/guarded-load';
import { EVICTION_REASONS } from '../cache/local-cache';
import type { SyncedCacheObserver } from '../events';
import { REJECT_REASONS } from '../sync/envelope';
import type { AppliedInvalidation, AppliedTagInvalidation } from '../sync/invalidation-subscriber';
import { SYNC_MODES } from '../sync/recovery';
import { TOPOLOGIES } from '../sync/redis-topology';
import { PendingObservations } from './pending-observations';
import { nearestRank, RecentSamples } from './recent-samples';

/** Buckets from 0.1 ms to 10 s with a boundary at 0.1 s. */
export const LAG_BUCKETS = [
  0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
];
/** The window of cache_invalidation_lag_recent_seconds. */
export const RECENT_LAG_SECONDS = 10;
/** Stale windows run from milliseconds (delivered) to the TTL (lost message). */
export const STALE_WINDOW_BUCKETS = [
  0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600, 1800, 3600,
];

export type SyncedCacheMetrics = ReturnType<typeof registerSyncedCacheMetrics>;

/** A prom-client registry, Prometheus or OpenMetrics (which keeps the lag's trace-id exemplars). */
export type AnyRegistry = Registry<PrometheusContentType> | Registry<OpenMetricsContentType>;

/** Counters fed by events: name, help, and the label names beyond `cache`. */
const COUNTERS = {
  puts: ['cache_puts_total', 'Entries written into the local cache.'],
  evictions: ['cache_evictions_total', 'Entries removed from the local cache, by reason.', 'reason'],
  loads: ['cache_loads_total', 'Loads from the source of truth (misses that read it; a coalesced miss does not).'],
  loadsCoalesced: [
    'cache_loads_coalesced_total',
    'Misses that waited for a load of the same key already under way instead of reading the source.',
  ],
  published: ['cache_invalidations_published_total', 'Invalidation messages published by this replica.'],
  publishErrors: [
    'cache_invalidation_publish_errors_total',
    'Invalidation or heartbeat messages this replica failed to publish.',
  ],
  receiversMissing: [
    'cache_invalidation_receivers_missing_total',
    'Live members expected to receive a message minus the receivers PUBLISH reported, summed over messages.',
  ],
  missed: ['cache_invalidations_missed_total', 'Messages known to be lost: gaps in the per-origin sequence.'],
  rejected: [
    'cache_invalidations_rejected_total',
    'Messages on the channel that were malformed, foreign or duplicated, by reason.',
    'reason',
  ],
  staleReads: [
    'cache_stale_reads_total',
    'Sampled cache hits that served an older version than the database, after the newer write was acknowledged (when the audit is told acknowledgments) or committed.',
  ],
  staleReadsUnacknowledged: [
    'cache_stale_reads_unacknowledged_total',
    'Sampled cache hits that served an older version than one committed whose write was not yet acknowledged to its client: stale to the database, not to any reader (not in cache_stale_reads_total).',
  ],
  staleChecks: [
    'cache_stale_checks_total',
    'Sampled cache hits checked against the database, stale or not (the denominator of cache_stale_reads_total).',
  ],
  reconnects: [
    'cache_invalidation_subscriber_reconnects_total',
    'Times the invalidation subscriber came back after losing its connection.',
  ],
  failovers: [
    'cache_invalidation_subscriber_failovers_total',
    'Times the invalidation subscriber came back on another Redis server than before (a Sentinel or Cluster failover).',
  ],
  timesRefused: [
    'cache_invalidation_times_refused_total',
    'Sender timestamps outside [now - 10 min, now + 5 s]: not used for lag, stale window or replay, by field.',
    'field',
  ],
  recoveries: ['cache_sync_recoveries_total', 'Recoveries (flush or replay) by reason.', 'mode', 'reason'],
  replayed: [
    'cache_invalidations_replayed_total',
    'Missed invalidations applied on recovery from the stream log, or from outbox marks of writes never published (stream mode).',
  ],
  outboxRepublished: [
    'cache_outbox_republished_total',
    'Invalidations published from the outbox because their writer never did (crash, Redis away).',
  ],
  fillsRejected: [
    'cache_fill_fence_rejections_total',
    'Cache fills refused because an invalidation overtook the read (fill fences).',
  ],
  staleServed: [
    'cache_stale_served_total',
    'Stale values answered on purpose by fail-safe (marked stale in the answer), by reason; stale hits served by accident are cache_stale_reads_total.',
    'reason',
  ],
  tagInvalidations: [
    'cache_tag_invalidations_total',
    "Tag invalidations and clears applied here, by kind (tags, clear) and source (local: this replica's own; remote: a peer's message).",
    'kind',
    'source',
  ],
  backgroundLoads: [
    'cache_background_loads_total',
    'Loads no caller waits for, by cause (soft_timeout: left running after answering the fallback; refresh: ahead of expiry) and outcome (started, cached, discarded by a fence, failed).',
    'cause',
    'outcome',
  ],
} as const;

/** Gauges set by events. */
const GAUGES = {
  staleChecksPending: [
    'cache_stale_checks_pending',
    'Sampled stale checks started and not finished (they queue behind a busy database).',
  ],
  subscriberUp: ['cache_invalidation_subscriber_up', '1 while the invalidation subscriber is subscribed.'],
  topology: ['cache_redis_topology', '1 on the Redis topology the replica runs on.', 'topology'],
  members: ['cache_invalidation_members', 'Live members in the registry, this replica included.'],
  origins: ['cache_invalidation_origins', 'Senders whose message sequences this replica tracks (bounded).'],
  signing: [
    'cache_sync_signing_enabled',
    '1 when messages are signed and verified (SYNC_SIGNING_KEYS set); 0 when anyone on the channel can forge them.',
  ],
  syncMode: ['cache_sync_mode', "1 on the replica's SYNC_MODE, 0 on the other modes.", 'mode'],
  trusted: [
    'cache_sync_trusted',
    '1 while the local cache is trusted: reads may use it (0: bypassed until recovery, safer sync modes).',
  ],
  /** The old name of cache_sync_trusted, kept for one release (0.2) so existing queries keep working. */
  trustedOldName: ['cache_sync_cache_usable', 'Deprecated: renamed cache_sync_trusted; removed after 0.2.'],
} as const;

type Table = Record<string, readonly [string, string, ...string[]]>;
const build = <T extends Table, M>(table: T, make: (name: string, help: string, labelNames: string[]) => M) =>
  Object.fromEntries(
    Object.entries(table).map(([key, [name, help, ...labels]]) => [key, make(name, help, ['cache', ...labels])]),
  ) as { [K in keyof T]: M };

/** What the hot paths count in plain numbers, handed to prom-client only when it collects. */
interface Tally {
  hits: number;
  misses: number;
  received: number;
  lastMessageAt: number;
  size: () => number;
}

/**
 * The metrics that read their value when Prometheus scrapes: lookups and received messages (the
 * hot paths: each prom-client call hashes its labels), size, the last message's time, and the
 * exact quantiles of the last seconds' lag.
 */
function collectedMetrics(registers: AnyRegistry[], cache: string, tally: Tally, recentLag: RecentSamples) {
  const labels = { cache };
  const reported = { hits: 0, misses: 0, received: 0 };
  new Counter({
    name: 'cache_gets_total',
    help: 'Cache lookups by result.',
    labelNames: ['cache', 'result'],
    registers,
    collect() {
      this.labels({ cache, result: 'hit' }).inc(tally.hits - reported.hits);
      this.labels({ cache, result: 'miss' }).inc(tally.misses - reported.misses);
      [reported.hits, reported.misses] = [tally.hits, tally.misses];
    },
  });
  new Counter({
    name: 'cache_invalidations_received_total',
    help: 'Invalidation messages received from other replicas.',
    labelNames: ['cache'],
    registers,
    collect() {
      this.inc(labels, tally.received - reported.received);
      reported.received = tally.received;
    },
  });
  new Gauge({
    name: 'cache_size',
    help: 'Entries in the local cache.',
    labelNames: ['cache'],
    registers,
    collect() {
      this.set(labels, tally.size());
    },
  });
  new Gauge({
    name: 'cache_invalidation_last_received_timestamp_seconds',
    help: 'When the last message (heartbeats included) arrived from another replica.',
    labelNames: ['cache'],
    registers,
    collect() {
      this.set(labels, tally.lastMessageAt / 1000);
    },
  });
  new Gauge({
    name: 'cache_invalidation_lag_recent_seconds',
    help: `Publish-to-evict lag over the last ${RECENT_LAG_SECONDS} s (at most 4096 messages), exact nearest-rank quantiles; absent without messages.`,
    labelNames: ['cache', 'q'],
    registers,
    collect() {
      this.reset();
      const sorted = recentLag.within(RECENT_LAG_SECONDS);
      if (sorted.length === 0) return;
      for (const q of [0.5, 0.99]) this.set({ cache, q: String(q) }, nearestRank(sorted, q));
    },
  });
}

/** The histograms; lag and stale windows take their observations from pending arrays when they collect. */
function histograms(
  registers: AnyRegistry[],
  exemplars: boolean,
  pending: { lag: PendingObservations; staleWindow: PendingObservations },
) {
  const histogram = (name: string, help: string, buckets: number[], enableExemplars = false, collect?: () => void) =>
    new Histogram({ name, help, labelNames: ['cache'], buckets, registers, enableExemplars, collect });
  return {
    lag: histogram(
      'cache_invalidation_lag_seconds',
      'From publishedAt on the sender to the eviction applied here.',
      LAG_BUCKETS,
      exemplars,
      () => pending.lag.flush(),
    ),
    staleWindow: histogram(
      'cache_stale_window_seconds',
      "From a write's commit to the moment this replica could no longer serve the older version.",
      STALE_WINDOW_BUCKETS,
      false,
      () => pending.staleWindow.flush(),
    ),
    staleReadAge: histogram(
      'cache_stale_read_age_seconds',
      'How long a stale hit had been stale when it was served.',
      STALE_WINDOW_BUCKETS,
    ),
    recoverySeconds: histogram(
      'cache_sync_recovery_seconds',
      'From the fault being noticed to the cache being trusted again.',
      LAG_BUCKETS,
    ),
  };
}

type Metrics = ReturnType<typeof histograms> & {
  [K in keyof typeof COUNTERS]: Counter;
} & { [K in keyof typeof GAUGES]: Gauge };

/** Every label set at zero, so a rate or an absence alert works from the first scrape. */
function zeroInitialise(m: Metrics, cache: string): void {
  const labels = { cache };
  for (const reason of EVICTION_REASONS) m.evictions.inc({ cache, reason }, 0);
  for (const reason of REJECT_REASONS) m.rejected.inc({ cache, reason }, 0);
  for (const field of ['published_at', 'committed_at']) m.timesRefused.inc({ cache, field }, 0);
  for (const reason of STALE_REASONS) m.staleServed.inc({ cache, reason }, 0);
  for (const kind of ['tags', 'clear'])
    for (const source of ['local', 'remote']) m.tagInvalidations.inc({ cache, kind, source }, 0);
  for (const cause of ['soft_timeout', 'refresh'])
    for (const outcome of ['started', 'cached', 'discarded', 'failed'])
      m.backgroundLoads.inc({ cache, cause, outcome }, 0);
  const labelled = new Set([
    'evictions',
    'rejected',
    'timesRefused',
    'recoveries',
    'failovers',
    'staleServed',
    'backgroundLoads',
    'tagInvalidations',
  ]);
  for (const key of Object.keys(COUNTERS) as (keyof typeof COUNTERS)[]) if (!labelled.has(key)) m[key].inc(labels, 0);
  for (const g of [m.subscriberUp, m.members, m.staleChecksPending, m.origins, m.signing]) g.set(labels, 0);
  m.trusted.set(labels, 1);
  m.trustedOldName.set(labels, 1);
  for (const h of [m.lag, m.staleWindow, m.staleReadAge]) h.zero(labels);
}

/** The table from event to metric: what each event of the cache does to its series. */
function eventTable(
  m: Metrics,
  cache: string,
  tally: Tally,
  recentLag: RecentSamples,
  pending: { lag: PendingObservations; staleWindow: PendingObservations },
): SyncedCacheObserver {
  const labels = { cache };
  let mode = '';
  let lastNode: string | undefined;
  let wasUp = false;
  const set = (gauge: Gauge, on: boolean) => gauge.set(labels, on ? 1 : 0);
  /** A peer's message applied here (key or tag invalidation, or clear): received, its lag and stale window. */
  const received = ({ lagSeconds, staleWindowSeconds, traceId }: AppliedInvalidation | AppliedTagInvalidation) => {
    tally.received += 1;
    if (lagSeconds !== undefined) {
      pending.lag.add(lagSeconds, traceId);
      recentLag.observe(lagSeconds);
    }
    if (staleWindowSeconds !== undefined) pending.staleWindow.add(staleWindowSeconds);
  };
  return {
    onStarted: (info) => {
      mode = info.mode;
      tally.size = info.size;
      set(m.signing, info.signed);
      for (const each of TOPOLOGIES) m.topology.set({ cache, topology: each }, each === info.topology ? 1 : 0);
      for (const each of SYNC_MODES) m.syncMode.set({ cache, mode: each }, each === info.mode ? 1 : 0);
      if (info.mode !== 'pubsub')
        for (const reason of ['gap', 'reconnect', 'silence']) m.recoveries.inc({ cache, mode, reason }, 0);
    },
    onHit: () => {
      tally.hits += 1;
    },
    onMiss: () => {
      tally.misses += 1;
    },
    onPut: () => m.puts.inc(labels),
    onEvict: (_key, _value, reason) => m.evictions.inc({ cache, reason }),
    onLoad: (_key, shared) => (shared ? m.loadsCoalesced : m.loads).inc(labels),
    onFillRejected: () => m.fillsRejected.inc(labels),
    onServedStale: (_key, reason) => m.staleServed.inc({ cache, reason }),
    onBackgroundLoad: (_key, outcome, cause) => m.backgroundLoads.inc({ cache, cause, outcome }),
    onPublished: () => m.published.inc(labels),
    onError: (_error, during) => {
      if (during === 'publish' || during === 'heartbeat') m.publishErrors.inc(labels);
    },
    onReceiversMissing: (missing) => m.receiversMissing.inc(labels, missing),
    onMembership: (members) => m.members.set(labels, members),
    onMessage: () => {
      tally.lastMessageAt = Date.now();
    },
    onRejected: (reason) => m.rejected.inc({ cache, reason }),
    onMissed: (count) => m.missed.inc(labels, count),
    onInvalidation: received,
    onTagInvalidation: (applied) => {
      m.tagInvalidations.inc({ cache, kind: applied.kind, source: applied.local ? 'local' : 'remote' });
      if (!applied.local) received(applied);
    },
    onImplausibleTime: (field) => m.timesRefused.inc({ cache, field }),
    onOrigins: (count) => m.origins.set(labels, count),
    onSubscriberState: (state, node) => {
      set(m.subscriberUp, state === 'up');
      if (state !== 'up') return;
      if (wasUp) m.reconnects.inc(labels);
      if (wasUp && node !== undefined && lastNode !== undefined && node !== lastNode) m.failovers.inc(labels);
      wasUp = true;
      lastNode = node ?? lastNode;
    },
    onHitChecked: (stale, ageSeconds) => {
      m.staleChecks.inc(labels);
      if (!stale) return;
      m.staleReads.inc(labels);
      m.staleReadAge.observe(labels, ageSeconds ?? 0);
    },
    onHitUnacknowledged: () => m.staleReadsUnacknowledged.inc(labels),
    onStaleWindow: (seconds) => pending.staleWindow.add(seconds),
    onChecksPending: (change) => m.staleChecksPending.inc(labels, change),
    onTrustChanged: (trusted) => {
      set(m.trusted, trusted);
      set(m.trustedOldName, trusted);
    },
    onRecovery: (recovery) => {
      if (recovery.action === 'failed') return;
      m.recoveries.inc({ cache, mode, reason: recovery.reason });
      m.recoverySeconds.observe(labels, recovery.ms / 1000);
      if (recovery.action === 'replayed') m.replayed.inc(labels, recovery.replayed);
    },
    onRepublished: () => m.outboxRepublished.inc(labels),
  };
}

/**
 * Registers every metric of one synced cache on `registry` (the names are a contract that the
 * project's dashboards and alerts read), every series zero-initialised, and returns them with
 * `observer`, the observer that feeds them: pass it in `createSyncedCache({ observers: [...] })`.
 * On an OpenMetrics registry the lag histogram also carries trace-id exemplars.
 */
export function registerSyncedCacheMetrics(registry: AnyRegistry, options: { cache: string }) {
  const { cache } = options;
  const registers = [registry];
  const labels = { cache };
  // prom-client keeps exemplars (the trace id on a lag observation) on OpenMetrics registries only.
  const exemplars = registry.contentType === Registry.OPENMETRICS_CONTENT_TYPE;
  const tally: Tally = { hits: 0, misses: 0, received: 0, lastMessageAt: 0, size: () => 0 };
  const recentLag = new RecentSamples();
  // Lag and stale-window observations come with every message: held in plain arrays and handed
  // to their histograms when those collect (see PendingObservations).
  const pending = {
    lag: new PendingObservations((value, traceId) => {
      if (!exemplars) return m.lag.observe(labels, value);
      // prom-client types exemplar labels as the metric's labels; any label names are valid at runtime.
      const exemplarLabels = (traceId ? { trace_id: traceId } : {}) as Record<string, string>;
      m.lag.observe({ labels, value, exemplarLabels });
    }),
    staleWindow: new PendingObservations((value) => m.staleWindow.observe(labels, value)),
  };
  collectedMetrics(registers, cache, tally, recentLag);
  const m: Metrics = {
    ...histograms(registers, exemplars, pending),
    ...build(COUNTERS, (name, help, labelNames) => new Counter({ name, help, labelNames, registers })),
    ...build(GAUGES, (name, help, labelNames) => new Gauge({ name, help, labelNames, registers })),
  };
  zeroInitialise(m, cache);
  return { ...m, cache, observer: eventTable(m, cache, tally, recentLag, pending), recentLag };
}
