import { constants, PerformanceObserver } from 'node:perf_hooks';
import { getHeapStatistics } from 'node:v8';
import { registerSyncedCacheMetrics } from '@local-cache-sync/core/prometheus';
import { Counter, collectDefaultMetrics, Gauge, Histogram, type OpenMetricsContentType, Registry } from 'prom-client';

export const HTTP_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

export type Metrics = ReturnType<typeof createMetrics>;

/** The V8 heap in use right after the process's last full collection (one observer per process). */
let liveHeapBytes = 0;
let observingCollections = false;
function observeFullCollections(): void {
  if (observingCollections) return;
  observingCollections = true;
  new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      if ((entry as { detail?: { kind?: number } }).detail?.kind === constants.NODE_PERFORMANCE_GC_MAJOR)
        liveHeapBytes = getHeapStatistics().used_heap_size;
    }
  }).observe({ entryTypes: ['gc'] });
}

/**
 * Every metric of a replica (names are a contract: docs/metrics-and-tracing.md), in its own
 * OpenMetrics registry so that exemplars are exposed and several replicas can share a process:
 * the synced cache's (the library's Prometheus adapter), the service's own, and Node's.
 */
export function createMetrics(cache: string) {
  const registry = new Registry<OpenMetricsContentType>();
  registry.setContentType(Registry.OPENMETRICS_CONTENT_TYPE as OpenMetricsContentType);
  collectDefaultMetrics({ register: registry });
  const registers = [registry];
  const synced = registerSyncedCacheMetrics(registry, { cache });
  const outcomeUnknown = new Counter({
    name: 'cache_write_outcome_unknown_total',
    help: 'Writes the database did not answer in time (MONGODB_TIMEOUT_MS): they may still commit, and were announced.',
    labelNames: ['cache'],
    registers,
  });
  outcomeUnknown.inc({ cache }, 0);
  observeFullCollections();
  // The heap in use at any moment includes garbage not collected yet: only what survives a full
  // collection shows a leak.
  new Gauge({
    name: 'nodejs_heap_live_bytes',
    help: 'V8 heap in use right after the last full (mark-sweep) collection: what survived it; flat over hours means no leak (0 before the first one).',
    registers,
    collect() {
      this.set(liveHeapBytes);
    },
  });
  return {
    registry,
    cache,
    /** The synced cache's metrics and the observer that feeds them. */
    synced,
    outcomeUnknown,
    httpDuration: new Histogram({
      name: 'http_server_request_duration_seconds',
      help: 'HTTP request duration by route template.',
      labelNames: ['method', 'route', 'status_code'],
      buckets: HTTP_BUCKETS,
      registers,
    }),
  };
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
