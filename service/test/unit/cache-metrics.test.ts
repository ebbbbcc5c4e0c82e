import { LocalCache } from '../../../packages/core/src/cache/local-cache';
import { nearestRank, RecentSamples } from '../../../packages/core/src/prometheus/recent-samples';
import { createMetrics } from '../../src/telemetry/metrics';

describe('cache_gets_total from the tally the hit path keeps', () => {
  it('reports every hit and miss at each scrape, once', async () => {
    const metrics = createMetrics('book');
    const cache = new LocalCache<{ id: string; version: number }>({ ttlSeconds: 300, maxKeys: 10 });
    cache.observe(metrics.synced.observer);
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
    for (let ms = 1; ms <= 200; ms += 1) metrics.synced.recentLag.observe(ms / 1000);
    const text = await scrape();
    expect(text).toMatch(/cache_invalidation_lag_recent_seconds\{cache="book",q="0\.5"\} 0\.1$/m);
    expect(text).toMatch(/cache_invalidation_lag_recent_seconds\{cache="book",q="0\.99"\} 0\.198$/m);
    expect(nearestRank([1, 2, 3, 4], 0.5)).toBe(2);
  });
});
