import { MemoryBus } from '@local-cache-sync/core/testing';
import { type OpenMetricsContentType, Registry } from 'prom-client';
import { LocalCache } from '../src/cache/local-cache';
import { registerSyncedCacheMetrics } from '../src/prometheus/metrics';
import { PendingObservations } from '../src/prometheus/pending-observations';
import { nearestRank, RecentSamples } from '../src/prometheus/recent-samples';
import { createSyncedCache } from '../src/synced-cache';

const createMetrics = (cache: string) => {
  const registry = new Registry();
  return { registry, ...registerSyncedCacheMetrics(registry, { cache }) };
};

describe('cache_gets_total from the tally the hit path keeps', () => {
  it('reports every hit and miss at each scrape, once', async () => {
    const metrics = createMetrics('book');
    const cache = new LocalCache<{ id: string; version: number }>({
      ttlSeconds: 300,
      maxKeys: 10,
      events: metrics.observer,
    });
    const scrape = async () => {
      const text = await metrics.registry.getSingleMetricAsString('cache_gets_total');
      const value = (result: string) => Number(new RegExp(`result="${result}"} (\\d+)`).exec(text)?.[1]);
      return { hit: value('hit'), miss: value('miss') };
    };
    expect(await scrape()).toEqual({ hit: 0, miss: 0 });
    cache.set('id:a', { id: 'a', version: 1 });
    for (let i = 0; i < 3; i += 1) cache.get('id:a');
    cache.get('id:b');
    cache.get('id:c');
    expect(await scrape()).toEqual({ hit: 3, miss: 2 });
    expect(await scrape()).toEqual({ hit: 3, miss: 2 }); // a second scrape adds nothing
    cache.get('id:a');
    expect(await scrape()).toEqual({ hit: 4, miss: 2 });
    cache.close();
  });
});

describe('cache_invalidation_lag_recent_seconds: exact quantiles of the last 10 s', () => {
  it('keeps the newest samples, forgets the old ones, and sorts what it returns', () => {
    let clock = 0;
    const recent = new RecentSamples(4, () => clock);
    recent.observe(5);
    clock = 1000;
    for (const v of [3, 1, 2]) recent.observe(v);
    expect([...recent.within(10)]).toEqual([1, 2, 3, 5]);
    clock = 10_500; // the first sample is now 10.5 s old
    expect([...recent.within(10)]).toEqual([1, 2, 3]);
    recent.observe(4);
    recent.observe(0); // capacity 4: the oldest samples (5, then 3) are overwritten
    expect([...recent.within(100)]).toEqual([0, 1, 2, 4]);
  });

  it('reports nearest-rank p50 and p99 of the samples (not bucket edges), and nothing without samples', async () => {
    const metrics = createMetrics('book');
    const scrape = () => metrics.registry.getSingleMetricAsString('cache_invalidation_lag_recent_seconds');
    expect(await scrape()).not.toMatch(/q=/);
    for (let ms = 1; ms <= 200; ms += 1) metrics.recentLag.observe(ms / 1000);
    const text = await scrape();
    expect(text).toMatch(/cache_invalidation_lag_recent_seconds\{cache="book",q="0\.5"\} 0\.1$/m);
    expect(text).toMatch(/cache_invalidation_lag_recent_seconds\{cache="book",q="0\.99"\} 0\.198$/m);
    expect(nearestRank([1, 2, 3, 4], 0.5)).toBe(2);
  });
});

describe('lag and stale-window observations, handed to their histograms in batches', () => {
  const applied = (lagSeconds: number, staleWindowSeconds: number, traceId?: string) => ({
    message: {} as never,
    evictedKeys: 1,
    lagSeconds,
    staleWindowSeconds,
    traceId,
  });
  const count = (text: string, name: string) =>
    Number(new RegExp(`^${name}_count\\{[^}]*\\} (\\d+)`, 'm').exec(text)?.[1]);

  it('drains in order, once, and at once when full, whether or not anyone scrapes', () => {
    const drained: [number, string | undefined][] = [];
    const pending = new PendingObservations((value, traceId) => drained.push([value, traceId]), 3);
    pending.add(1, 'a');
    pending.add(2);
    expect(drained).toEqual([]);
    pending.add(3, 'c'); // the third fills it
    expect(drained).toEqual([
      [1, 'a'],
      [2, undefined],
      [3, 'c'],
    ]);
    pending.add(4);
    pending.flush();
    pending.flush();
    expect(drained.map(([v]) => v)).toEqual([1, 2, 3, 4]);
    expect(pending.size).toBe(0);
  });

  it('reports every observation at the next scrape, once, on a classic and an OpenMetrics registry (with the trace id as exemplar)', async () => {
    const openMetrics = new Registry<OpenMetricsContentType>();
    openMetrics.setContentType(Registry.OPENMETRICS_CONTENT_TYPE);
    for (const registry of [new Registry(), openMetrics]) {
      const metrics = registerSyncedCacheMetrics(registry, { cache: 'book' });
      for (let i = 0; i < 2500; i += 1) metrics.observer.onInvalidation?.(applied(0.002, 0.003)); // more than a buffer
      metrics.observer.onInvalidation?.(applied(0.02, 0.03, 'f'.repeat(32)));
      metrics.observer.onStaleWindow?.(400);
      const text = await registry.metrics();
      expect(count(text, 'cache_invalidation_lag_seconds')).toBe(2501);
      expect(count(text, 'cache_stale_window_seconds')).toBe(2502);
      expect(text).toMatch(/^cache_stale_window_seconds_bucket\{le="300",cache="book"\} 2501$/m);
      const exemplar =
        /^cache_invalidation_lag_seconds_bucket\{le="0.025",cache="book"\} 2501 # \{trace_id="f{32}"\} 0.02 /m;
      if (registry === openMetrics) expect(text).toMatch(exemplar);
      else expect(text).not.toMatch(/# \{trace_id/);
      const again = await registry.metrics();
      expect(count(again, 'cache_invalidation_lag_seconds')).toBe(2501); // a second scrape adds nothing
      expect(count(again, 'cache_stale_window_seconds')).toBe(2502);
    }
  });
});

describe('the Prometheus adapter on a synced cache', () => {
  it('reports the mode, signing and size, loads and coalesced misses, on a classic registry without exemplars', async () => {
    const metrics = createMetrics('note');
    const cache = await createSyncedCache<{ id: string; version: number }>({
      name: 'note',
      replicaId: 'a',
      bus: { transport: new MemoryBus().transport() },
      sync: { mode: 'pubsub-flush' },
      signing: { keys: 'k1:0123456789abcdef0123456789abcdef' },
      observers: [metrics.observer],
    });
    try {
      let release: () => void = () => undefined;
      const gate = new Promise<void>((resolve) => {
        release = resolve;
      });
      const loader = async () => {
        await gate;
        return { id: '1', version: 1 };
      };
      const reads = [
        cache.getOrLoad('note:1', loader),
        cache.getOrLoad('note:1', loader),
        cache.getOrLoad('note:1', loader),
      ];
      release();
      await Promise.all(reads);
      const text = await metrics.registry.metrics();
      expect(text).toContain('cache_loads_total{cache="note"} 1');
      expect(text).toContain('cache_loads_coalesced_total{cache="note"} 2');
      expect(text).toContain('cache_size{cache="note"} 1');
      expect(text).toContain('cache_sync_mode{cache="note",mode="pubsub-flush"} 1');
      expect(text).toContain('cache_sync_mode{cache="note",mode="pubsub"} 0');
      expect(text).toContain('cache_sync_signing_enabled{cache="note"} 1');
      expect(text).toContain('cache_sync_recoveries_total{cache="note",mode="pubsub-flush",reason="gap"} 0');
      expect(text).toContain('cache_invalidation_subscriber_up{cache="note"} 1');
      // Every sampled check counts, stale or not: the denominator of cache_stale_reads_total.
      expect(text).toContain('cache_stale_checks_total{cache="note"} 0');
      metrics.observer.onHitChecked?.(false);
      metrics.observer.onHitChecked?.(true, 1);
      const checked = await metrics.registry.metrics();
      expect(checked).toContain('cache_stale_checks_total{cache="note"} 2');
      expect(checked).toContain('cache_stale_reads_total{cache="note"} 1');
      // An invalidation's lag lands in the histogram; no exemplar on a classic registry.
      metrics.observer.onInvalidation?.({
        message: {} as never,
        evictedKeys: 1,
        lagSeconds: 0.002,
        staleWindowSeconds: 0.003,
        traceId: 'abc',
      });
      expect(await metrics.registry.getSingleMetricAsString('cache_invalidation_lag_seconds')).toMatch(
        /cache_invalidation_lag_seconds_bucket\{le="0.0025",cache="note"\} 1$/m,
      );
    } finally {
      await cache.close();
    }
  });
});
