import {
  Counter,
  Gauge,
  Histogram,
  type OpenMetricsContentType,
  type PrometheusContentType,
  Registry,
} from 'prom-client';
import { EVICTION_REASONS } from '../cache/local-cache';
import { REJECT_REASONS } from '../sync/envelope';
import { SYNC_MODES } from '../sync/recovery';
import { TOPOLOGIES } from '../sync/redis-topology';
import type { SyncedCacheObserver } from '../events';
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

/**
 * Registers every metric of one synced cache on `registry` (the names are a contract that the
 * project's dashboards and alerts read), every series zero-initialised, and returns them with
 * `observer`, the observer that feeds them: pass it in `createSyncedCache({ observers: [...] })`.
 * On an OpenMetrics registry the lag histogram also carries trace-id exemplars.
 */
export function registerSyncedCacheMetrics(
  registry: Registry<PrometheusContentType> | Registry<OpenMetricsContentType>,
  options: { cache: string },
) {
  const { cache } = options;
  const registers = [registry];
  // prom-client keeps exemplars (the trace id on a lag observation) on OpenMetrics registries only.
  const exemplars = registry.contentType === Registry.OPENMETRICS_CONTENT_TYPE;
  const labels = { cache };
  let sizeOf = () => 0;
  const counter = (name: string, help: string, labelNames: string[] = ['cache']) =>
    new Counter({ name, help, labelNames, registers });
  const gauge = (name: string, help: string, labelNames: string[] = ['cache']) =>
    new Gauge({ name, help, labelNames, registers });
  const histogram = (name: string, help: string, buckets: number[], enableExemplars = false, collect?: () => void) =>
    new Histogram({ name, help, labelNames: ['cache'], buckets, registers, enableExemplars, collect });

  // Lag and stale-window observations come with every message: held in plain arrays and handed
  // to their histograms when those collect (see PendingObservations).
  const pendingLag = new PendingObservations((value, traceId) => {
    if (!exemplars) return m.lag.observe(labels, value);
    // prom-client types exemplar labels as the metric's labels; any label names are valid at runtime.
    const exemplarLabels = (traceId ? { trace_id: traceId } : {}) as Record<string, string>;
    m.lag.observe({ labels, value, exemplarLabels });
  });
  const pendingStaleWindow = new PendingObservations((value) => m.staleWindow.observe(labels, value));

  // Lookups and received messages are the hot paths: counted in plain numbers and handed to
  // prom-client only when it collects, not on every get or message (each call hashes its labels).
  const tally = { hits: 0, misses: 0, received: 0, lastMessageAt: 0 };
  const reported = { hits: 0, misses: 0, received: 0 };
  new Counter({
    name: 'cache_gets_total',
    help: 'Cache lookups by result.',
    labelNames: ['cache', 'result'],
    registers,
    collect() {
      this.labels({ cache, result: 'hit' }).inc(tally.hits - reported.hits);
      this.labels({ cache, result: 'miss' }).inc(tally.misses - reported.misses);
      reported.hits = tally.hits;
      reported.misses = tally.misses;
    },
  });

  // Exact quantiles of the last seconds' lag, computed at scrape time from the kept samples.
  const recentLag = new RecentSamples();
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

  const m = {
    puts: counter('cache_puts_total', 'Entries written into the local cache.'),
    size: new Gauge({
      name: 'cache_size',
      help: 'Entries in the local cache.',
      labelNames: ['cache'],
      registers,
      collect() {
        this.set(labels, sizeOf());
      },
    }),
    evictions: counter('cache_evictions_total', 'Entries removed from the local cache, by reason.', [
      'cache',
      'reason',
    ]),
    loads: counter(
      'cache_loads_total',
      'Loads from the source of truth (misses that read it; a coalesced miss does not).',
    ),
    loadsCoalesced: counter(
      'cache_loads_coalesced_total',
      'Misses that waited for a load of the same key already under way instead of reading the source.',
    ),
    published: counter('cache_invalidations_published_total', 'Invalidation messages published by this replica.'),
    publishErrors: counter(
      'cache_invalidation_publish_errors_total',
      'Invalidation or heartbeat messages this replica failed to publish.',
    ),
    receiversMissing: counter(
      'cache_invalidation_receivers_missing_total',
      'Live members expected to receive a message minus the receivers PUBLISH reported, summed over messages.',
    ),
    received: new Counter({
      name: 'cache_invalidations_received_total',
      help: 'Invalidation messages received from other replicas.',
      labelNames: ['cache'],
      registers,
      collect() {
        this.inc(labels, tally.received - reported.received);
        reported.received = tally.received;
      },
    }),
    missed: counter('cache_invalidations_missed_total', 'Messages known to be lost: gaps in the per-origin sequence.'),
    rejected: counter(
      'cache_invalidations_rejected_total',
      'Messages on the channel that were malformed, foreign or duplicated, by reason.',
      ['cache', 'reason'],
    ),
    lag: histogram(
      'cache_invalidation_lag_seconds',
      'From publishedAt on the sender to the eviction applied here.',
      LAG_BUCKETS,
      exemplars,
      () => pendingLag.flush(),
    ),
    staleWindow: histogram(
      'cache_stale_window_seconds',
      "From a write's commit to the moment this replica could no longer serve the older version.",
      STALE_WINDOW_BUCKETS,
      false,
      () => pendingStaleWindow.flush(),
    ),
    staleReads: counter(
      'cache_stale_reads_total',
      'Sampled cache hits that served an older version than the database.',
    ),
    staleChecks: counter(
      'cache_stale_checks_total',
      'Sampled cache hits checked against the database, stale or not (the denominator of cache_stale_reads_total).',
    ),
    staleReadAge: histogram(
      'cache_stale_read_age_seconds',
      'How long a stale hit had been stale when it was served.',
      STALE_WINDOW_BUCKETS,
    ),
    staleChecksPending: gauge(
      'cache_stale_checks_pending',
      'Sampled stale checks started and not finished (they queue behind a busy database).',
    ),
    subscriberUp: gauge('cache_invalidation_subscriber_up', '1 while the invalidation subscriber is subscribed.'),
    reconnects: counter(
      'cache_invalidation_subscriber_reconnects_total',
      'Times the invalidation subscriber came back after losing its connection.',
    ),
    failovers: counter(
      'cache_invalidation_subscriber_failovers_total',
      'Times the invalidation subscriber came back on another Redis server than before (a Sentinel or Cluster failover).',
    ),
    topology: gauge('cache_redis_topology', '1 on the Redis topology the replica runs on.', ['cache', 'topology']),
    lastReceived: new Gauge({
      name: 'cache_invalidation_last_received_timestamp_seconds',
      help: 'When the last message (heartbeats included) arrived from another replica.',
      labelNames: ['cache'],
      registers,
      collect() {
        this.set(labels, tally.lastMessageAt / 1000);
      },
    }),
    members: gauge('cache_invalidation_members', 'Live members in the registry, this replica included.'),
    origins: gauge('cache_invalidation_origins', 'Senders whose message sequences this replica tracks (bounded).'),
    timesRefused: counter(
      'cache_invalidation_times_refused_total',
      'Sender timestamps outside [now - 10 min, now + 5 s]: not used for lag, stale window or replay, by field.',
      ['cache', 'field'],
    ),
    signing: gauge(
      'cache_sync_signing_enabled',
      '1 when messages are signed and verified (SYNC_SIGNING_KEYS set); 0 when anyone on the channel can forge them.',
    ),
    syncMode: gauge('cache_sync_mode', "1 on the replica's SYNC_MODE, 0 on the other modes.", ['cache', 'mode']),
    trusted: gauge(
      'cache_sync_trusted',
      '1 while the local cache is trusted: reads may use it (0: bypassed until recovery, safer sync modes).',
    ),
    /** The old name of cache_sync_trusted, kept for one release (0.2) so existing queries keep working. */
    trustedOldName: gauge('cache_sync_cache_usable', 'Deprecated: renamed cache_sync_trusted; removed after 0.2.'),
    recoveries: counter('cache_sync_recoveries_total', 'Recoveries (flush or replay) by reason.', [
      'cache',
      'mode',
      'reason',
    ]),
    recoverySeconds: histogram(
      'cache_sync_recovery_seconds',
      'From the fault being noticed to the cache being trusted again.',
      LAG_BUCKETS,
    ),
    replayed: counter(
      'cache_invalidations_replayed_total',
      'Missed invalidations applied on recovery from the stream log, or from outbox marks of writes never published (stream mode).',
    ),
    outboxRepublished: counter(
      'cache_outbox_republished_total',
      'Invalidations published from the outbox because their writer never did (crash, Redis away).',
    ),
    fillsRejected: counter(
      'cache_fill_fence_rejections_total',
      'Cache fills refused because an invalidation overtook the read (fill fences).',
    ),
  };

  for (const reason of EVICTION_REASONS) m.evictions.inc({ cache, reason }, 0);
  for (const reason of REJECT_REASONS) m.rejected.inc({ cache, reason }, 0);
  for (const field of ['published_at', 'committed_at']) m.timesRefused.inc({ cache, field }, 0);
  for (const c of [
    m.puts,
    m.loads,
    m.loadsCoalesced,
    m.published,
    m.publishErrors,
    m.receiversMissing,
    m.received,
    m.missed,
    m.staleReads,
    m.staleChecks,
    m.reconnects,
    m.replayed,
    m.fillsRejected,
    m.outboxRepublished,
  ]) {
    c.inc(labels, 0);
  }
  for (const g of [m.size, m.subscriberUp, m.lastReceived, m.members, m.staleChecksPending, m.origins, m.signing]) {
    g.set(labels, 0);
  }
  m.trusted.set(labels, 1);
  m.trustedOldName.set(labels, 1);
  for (const h of [m.lag, m.staleWindow, m.staleReadAge]) h.zero(labels);

  let mode = '';
  let lastNode: string | undefined;
  let wasUp = false;
  const observer: SyncedCacheObserver = {
    onStarted: (info) => {
      mode = info.mode;
      sizeOf = info.size;
      m.signing.set(labels, info.signed ? 1 : 0);
      for (const each of TOPOLOGIES) m.topology.set({ cache, topology: each }, each === info.topology ? 1 : 0);
      for (const each of SYNC_MODES) m.syncMode.set({ cache, mode: each }, each === info.mode ? 1 : 0);
      if (info.mode !== 'pubsub') {
        for (const reason of ['gap', 'reconnect', 'silence']) m.recoveries.inc({ cache, mode, reason }, 0);
      }
    },
    onHit: () => {
      tally.hits += 1;
    },
    onMiss: () => {
      tally.misses += 1;
    },
    onPut: () => m.puts.inc(labels),
    onEvict: (_key, _value, reason) => m.evictions.inc({ cache, reason }),
    onLoad: () => m.loads.inc(labels),
    onLoadCoalesced: () => m.loadsCoalesced.inc(labels),
    onFillRejected: () => m.fillsRejected.inc(labels),
    onPublished: () => m.published.inc(labels),
    onPublishError: () => m.publishErrors.inc(labels),
    onReceiversMissing: (missing) => m.receiversMissing.inc(labels, missing),
    onMembership: (members) => m.members.set(labels, members),
    onMessage: () => {
      tally.lastMessageAt = Date.now();
    },
    onRejected: (reason) => m.rejected.inc({ cache, reason }),
    onMissed: (count) => m.missed.inc(labels, count),
    onInvalidation: ({ lagSeconds, staleWindowSeconds, traceId }) => {
      tally.received += 1;
      if (lagSeconds !== undefined) {
        pendingLag.add(lagSeconds, traceId);
        recentLag.observe(lagSeconds);
      }
      if (staleWindowSeconds !== undefined) pendingStaleWindow.add(staleWindowSeconds);
    },
    onImplausibleTime: (field) => m.timesRefused.inc({ cache, field }),
    onOrigins: (count) => m.origins.set(labels, count),
    onSubscriberState: (state, node) => {
      m.subscriberUp.set(labels, state === 'up' ? 1 : 0);
      if (state !== 'up') return;
      if (wasUp) m.reconnects.inc(labels);
      if (wasUp && node !== undefined && lastNode !== undefined && node !== lastNode) m.failovers.inc(labels);
      wasUp = true;
      lastNode = node ?? lastNode;
    },
    onStaleRead: (ageSeconds) => {
      m.staleReads.inc(labels);
      m.staleReadAge.observe(labels, ageSeconds);
    },
    onHitChecked: () => m.staleChecks.inc(labels),
    onStaleWindow: (seconds) => pendingStaleWindow.add(seconds),
    onChecksPending: (change) => m.staleChecksPending.inc(labels, change),
    onTrustChanged: (trusted) => {
      m.trusted.set(labels, trusted ? 1 : 0);
      m.trustedOldName.set(labels, trusted ? 1 : 0);
    },
    onRecovered: (reason, ms) => {
      m.recoveries.inc({ cache, mode, reason });
      m.recoverySeconds.observe(labels, ms / 1000);
    },
    onReplayed: (applied) => m.replayed.inc(labels, applied),
    onRepublished: () => m.outboxRepublished.inc(labels),
  };
  return { ...m, cache, observer, recentLag };
}
