import type { StaleObserver } from '../books/book-service';
import type { CacheObserver, Versioned } from '../cache/local-cache';
import type { RequestObserver } from '../http/request-timing';
import type { PublishObserver } from '../sync/invalidation-publisher';
import type { ReceiveObserver } from '../sync/invalidation-subscriber';
import { type RecoveryReason, SYNC_MODES, type SyncMode } from '../sync/recovery';
import type { SubscriberStateListener } from '../sync/transport';
import { type Logger, ThrottledLog } from '../telemetry/logger';
import type { Metrics } from '../telemetry/metrics';

// What each layer reports, turned into metrics and logs: the only place that knows both sides.

/** Turns what the cache core reports into metrics. */
export function cacheMetricsObserver<V extends Versioned>(metrics: Metrics, size: () => number): CacheObserver<V> {
  const labels = { cache: metrics.cache };
  const tally = metrics.getTally;
  return {
    onHit: () => {
      tally.hits += 1;
    },
    onMiss: () => {
      tally.misses += 1;
    },
    onPut: () => {
      metrics.puts.inc(labels);
      metrics.size.set(labels, size());
    },
    onEvict: (_key, _value, reason) => {
      metrics.evictions.inc({ ...labels, reason });
      metrics.size.set(labels, size());
    },
  };
}

export function publishMetricsObserver(metrics: Metrics, logger: Logger): PublishObserver {
  const labels = { cache: metrics.cache };
  const throttled = new ThrottledLog(logger);
  return {
    onPublished: () => metrics.published.inc(labels),
    onPublishError: (error, kind) => {
      metrics.publishErrors.inc(labels);
      throttled.warn(`publish-${kind}`, { err: error, kind }, 'publish failed');
    },
    onReceiversMissing: (missing) => metrics.receiversMissing.inc(labels, missing),
    onMembership: (members) => metrics.members.set(labels, members),
  };
}

export function receiveMetricsObserver(metrics: Metrics, logger: Logger): ReceiveObserver {
  const labels = { cache: metrics.cache };
  const throttled = new ThrottledLog(logger);
  return {
    onMessage: () => metrics.lastReceived.set(labels, Date.now() / 1000),
    onRejected: (reason, detail) => {
      metrics.rejected.inc({ ...labels, reason });
      throttled.warn(`reject-${reason}`, { reason, detail }, 'invalidation message rejected');
    },
    onMissed: (count, origin) => {
      metrics.missed.inc(labels, count);
      throttled.warn(`missed-${origin}`, { origin, count }, 'invalidation messages missed');
    },
    onInvalidation: ({ lagSeconds, staleWindowSeconds, traceId }) => {
      metrics.received.inc(labels);
      // prom-client types exemplar labels as the metric's labels; any label names are valid at runtime.
      const exemplarLabels = (traceId ? { trace_id: traceId } : {}) as Record<string, string>;
      if (lagSeconds !== undefined) {
        metrics.lag.observe({ labels, value: lagSeconds, exemplarLabels });
        metrics.recentLag.observe(lagSeconds);
      }
      if (staleWindowSeconds !== undefined) metrics.staleWindow.observe(labels, staleWindowSeconds);
    },
    onImplausibleTime: (field, detail) => {
      metrics.timesRefused.inc({ ...labels, field });
      throttled.warn(`time-${field}`, { field, detail }, 'implausible sender timestamp ignored');
    },
    onOrigins: (count) => metrics.origins.set(labels, count),
  };
}

/**
 * Tracks subscriber_up, counts a reconnect each time it comes back after having been up, and a
 * failover when it comes back on another server than the one it was on.
 */
export function subscriberStateMetrics(metrics: Metrics, logger: Logger): SubscriberStateListener {
  const labels = { cache: metrics.cache };
  let lastNode: string | undefined;
  let wasUp = false;
  return (state, node) => {
    metrics.subscriberUp.set(labels, state === 'up' ? 1 : 0);
    if (state === 'up' && wasUp) metrics.reconnects.inc(labels);
    const from = lastNode;
    const failover = state === 'up' && wasUp && node !== undefined && from !== undefined && node !== from;
    if (failover) metrics.failovers.inc(labels);
    if (state === 'up') {
      wasUp = true;
      lastNode = node ?? lastNode;
    }
    if (failover) logger.warn({ from, node }, 'invalidation subscriber moved to another Redis server (failover)');
    else logger.info({ state, node }, `invalidation subscriber ${state}`);
  };
}

export function staleMetricsObserver(metrics: Metrics): StaleObserver {
  const labels = { cache: metrics.cache };
  return {
    onStaleRead: (ageSeconds) => {
      metrics.staleReads.inc(labels);
      metrics.staleReadAge.observe(labels, ageSeconds);
    },
    onStaleWindow: (seconds) => metrics.staleWindow.observe(labels, seconds),
    onChecksPending: (change) => metrics.staleChecksPending.inc(labels, change),
  };
}

export function requestMetricsObserver(metrics: Metrics): RequestObserver {
  return ({ method, route, status, seconds }) =>
    metrics.httpDuration.observe({ method, route, status_code: String(status) }, seconds);
}

/** The sync mode's gauges and counters: mode, trust, recoveries, and what each recovery repaired. */
export function syncMetrics(metrics: Metrics, mode: SyncMode, logger: Logger) {
  const labels = { cache: metrics.cache };
  for (const each of SYNC_MODES) metrics.syncMode.set({ ...labels, mode: each }, each === mode ? 1 : 0);
  if (mode !== 'pubsub') {
    for (const reason of ['gap', 'reconnect', 'silence']) metrics.recoveries.inc({ ...labels, mode, reason }, 0);
  }
  return {
    onTrustChanged: (trusted: boolean) => {
      metrics.trusted.set(labels, trusted ? 1 : 0);
      metrics.trustedOldName.set(labels, trusted ? 1 : 0);
    },
    onRecovered: (reason: RecoveryReason, ms: number) => {
      metrics.recoveries.inc({ ...labels, mode, reason });
      metrics.recoverySeconds.observe(labels, ms / 1000);
      logger.info({ mode, reason, ms }, 'sync recovered');
    },
    onRecoveryFailed: (reason: RecoveryReason, error: Error) =>
      logger.warn({ err: error, mode, reason }, 'sync recovery failed'),
    onReplayed: (applied: number) => metrics.replayed.inc(labels, applied),
    onLogTooShort: (since: number) => logger.warn({ since }, 'the invalidation log no longer reaches back: flushing'),
    onFillRejected: () => metrics.fillsRejected.inc(labels),
    onRepublished: (entry: { id: string; version: number; op: string }) => {
      metrics.outboxRepublished.inc(labels);
      logger.warn(
        { id: entry.id, version: entry.version, op: entry.op },
        'republished an orphaned invalidation from the outbox',
      );
    },
  };
}
