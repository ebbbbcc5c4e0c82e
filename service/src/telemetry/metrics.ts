import { Counter, collectDefaultMetrics, Gauge, Histogram, type OpenMetricsContentType, Registry } from 'prom-client';
import { nearestRank, RecentSamples } from './recent-samples';

/** Buckets from 0.1 ms to 10 s with a boundary at 0.1 s (contract). */
export const LAG_BUCKETS = [
  0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
];
/** The window of cache_invalidation_lag_recent_seconds. */
export const RECENT_LAG_SECONDS = 10;
/** Stale windows run from milliseconds (delivered) to the TTL (lost message). */
export const STALE_WINDOW_BUCKETS = [
  0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600, 1800, 3600,
];
export const HTTP_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

export type Metrics = ReturnType<typeof createMetrics>;

/** The values of the bounded labels, zero-initialised so every series exists from the start. */
export interface LabelValues {
  evictionReasons: readonly string[];
  rejectReasons: readonly string[];
}

/**
 * Every metric of a replica (names are a contract: docs/metrics-and-tracing.md), in its own
 * OpenMetrics registry so that exemplars are exposed and several replicas can share a process.
 */
export function createMetrics(cache: string, values: LabelValues) {
  const registry = new Registry<OpenMetricsContentType>();
  registry.setContentType(Registry.OPENMETRICS_CONTENT_TYPE as OpenMetricsContentType);
  collectDefaultMetrics({ register: registry });
  const registers = [registry];
  const counter = (name: string, help: string, labelNames: string[] = ['cache']) =>
    new Counter({ name, help, labelNames, registers });
  const gauge = (name: string, help: string, labelNames: string[] = ['cache']) =>
    new Gauge({ name, help, labelNames, registers });
  const histogram = (name: string, help: string, buckets: number[], enableExemplars = false) =>
    new Histogram({ name, help, labelNames: ['cache'], buckets, registers, enableExemplars });

  // Lookups are the hot path: counted in plain numbers (see getTally) and handed to prom-client
  // only when it collects, not on every get.
  const getTally = { hits: 0, misses: 0 };
  const reported = { hits: 0, misses: 0 };
  const gets = new Counter({
    name: 'cache_gets_total',
    help: 'Cache lookups by result.',
    labelNames: ['cache', 'result'],
    registers,
    collect() {
      this.labels({ cache, result: 'hit' }).inc(getTally.hits - reported.hits);
      this.labels({ cache, result: 'miss' }).inc(getTally.misses - reported.misses);
      reported.hits = getTally.hits;
      reported.misses = getTally.misses;
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

  const metrics = {
    registry,
    cache,
    gets,
    /** Lag samples behind cache_invalidation_lag_recent_seconds. */
    recentLag,
    /** Cache hits and misses so far; cache_gets_total reads them at every scrape. */
    getTally,
    puts: counter('cache_puts_total', 'Entries written into the local cache.'),
    size: gauge('cache_size', 'Entries in the local cache.'),
    evictions: counter('cache_evictions_total', 'Entries removed from the local cache, by reason.', [
      'cache',
      'reason',
    ]),
    published: counter('cache_invalidations_published_total', 'Invalidation messages published by this replica.'),
    publishErrors: counter(
      'cache_invalidation_publish_errors_total',
      'Invalidation or heartbeat messages this replica failed to publish.',
    ),
    receiversMissing: counter(
      'cache_invalidation_receivers_missing_total',
      'Live members expected to receive a message minus the receivers PUBLISH reported, summed over messages.',
    ),
    received: counter('cache_invalidations_received_total', 'Invalidation messages received from other replicas.'),
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
      true,
    ),
    staleWindow: histogram(
      'cache_stale_window_seconds',
      "From a write's commit to the moment this replica could no longer serve the older version.",
      STALE_WINDOW_BUCKETS,
    ),
    staleReads: counter(
      'cache_stale_reads_total',
      'Sampled cache hits that served an older version than the database.',
    ),
    staleReadAge: histogram(
      'cache_stale_read_age_seconds',
      'How long a stale hit had been stale when it was served.',
      STALE_WINDOW_BUCKETS,
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
    lastReceived: gauge(
      'cache_invalidation_last_received_timestamp_seconds',
      'When the last message (heartbeats included) arrived from another replica.',
    ),
    members: gauge('cache_invalidation_members', 'Live members in the registry, this replica included.'),
    outcomeUnknown: counter(
      'cache_write_outcome_unknown_total',
      'Writes the database did not answer in time (MONGODB_TIMEOUT_MS): they may still commit, and were announced.',
    ),
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
    staleChecksPending: gauge(
      'cache_stale_checks_pending',
      'Sampled stale checks started and not finished (they queue behind a busy database).',
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
    httpDuration: new Histogram({
      name: 'http_server_request_duration_seconds',
      help: 'HTTP request duration by route template.',
      labelNames: ['method', 'route', 'status_code'],
      buckets: HTTP_BUCKETS,
      registers,
    }),
  };

  const labels = { cache };
  for (const reason of values.evictionReasons) metrics.evictions.inc({ cache, reason }, 0);
  for (const reason of values.rejectReasons) metrics.rejected.inc({ cache, reason }, 0);
  for (const c of [
    metrics.puts,
    metrics.published,
    metrics.publishErrors,
    metrics.receiversMissing,
    metrics.received,
    metrics.missed,
    metrics.staleReads,
    metrics.reconnects,
  ]) {
    c.inc(labels, 0);
  }
  for (const g of [
    metrics.size,
    metrics.subscriberUp,
    metrics.lastReceived,
    metrics.members,
    metrics.staleChecksPending,
  ])
    g.set(labels, 0);
  for (const field of ['published_at', 'committed_at']) metrics.timesRefused.inc({ cache, field }, 0);
  metrics.origins.set(labels, 0);
  metrics.outcomeUnknown.inc(labels, 0);
  metrics.signing.set(labels, 0);
  metrics.trusted.set(labels, 1);
  metrics.trustedOldName.set(labels, 1);
  for (const c of [metrics.replayed, metrics.fillsRejected, metrics.outboxRepublished]) c.inc(labels, 0);
  for (const h of [metrics.lag, metrics.staleWindow, metrics.staleReadAge]) h.zero(labels);
  return metrics;
}

const OPENMETRICS = 'application/openmetrics-text';

/** Renders OpenMetrics (with exemplars) when the scraper asks for it, the classic text format otherwise. */
export async function renderMetrics(registry: Registry<OpenMetricsContentType>, accept: string | undefined) {
  if (accept?.includes(OPENMETRICS)) {
    return { contentType: registry.contentType, body: await registry.metrics() };
  }
  return { contentType: Registry.PROMETHEUS_CONTENT_TYPE, body: await renderClassic(registry) };
}

/**
 * prom-client formats a registry in one format only, and its OpenMetrics mode renames counters
 * (drops `_total`) in place, so the classic text is rendered from the metrics' values instead.
 */
async function renderClassic(registry: Registry<OpenMetricsContentType>): Promise<string> {
  const classic = new Registry() as unknown as { getMetricsAsString(metric: unknown): Promise<string> };
  const parts = await Promise.all(
    (registry.getMetricsAsArray() as unknown as { get(): Promise<{ name: string; type: string }> }[]).map(
      async (metric) => {
        const data = await metric.get();
        const name = data.type === 'counter' && !data.name.endsWith('_total') ? `${data.name}_total` : data.name;
        return classic.getMetricsAsString({ get: async () => ({ ...data, name }) });
      },
    ),
  );
  return `${parts.join('\n\n')}\n`;
}
