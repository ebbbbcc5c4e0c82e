import { EVICTION_REASONS, LocalCache } from '../../src/cache/local-cache';
import { REJECT_REASONS } from '../../src/sync/envelope';
import { createMetrics } from '../../src/telemetry/metrics';
import { cacheMetricsObserver } from '../../src/wiring/observers';

describe('cache_gets_total from the tally the hit path keeps', () => {
  it('reports every hit and miss at each scrape, once', async () => {
    const metrics = createMetrics('book', { evictionReasons: EVICTION_REASONS, rejectReasons: REJECT_REASONS });
    const cache = new LocalCache<{ id: string; version: number }>({ ttlSeconds: 300, maxKeys: 10 });
    cache.observe(cacheMetricsObserver(metrics, () => cache.size));
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
