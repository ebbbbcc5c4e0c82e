import { Registry } from 'prom-client';
import { createSyncedCache, type SyncedCache, type SyncedCacheOptions } from '../src/index';
import { registerSyncedCacheMetrics } from '../src/prometheus';
import { uniqueName } from './fixtures';

/** A record as the library's tests cache it. */
export interface Item {
  id: string;
  version: number;
}

/** A synced cache on the test server's Redis, with the Prometheus adapter on its own registry. */
export interface Replica {
  cache: SyncedCache<Item>;
  registry: Registry;
  /** One sample of the adapter's metrics (histograms by their _sum and _count), 0 if absent. */
  metric(name: string, labels?: Record<string, string>): Promise<number>;
}

/** Two or more caches on one channel of the test server's Redis (`REDIS_URL`), as replicas would be. */
export async function startReplicas(
  count: number,
  options: Omit<SyncedCacheOptions<Item>, 'name' | 'bus'> & { heartbeatIntervalMs?: number } = {},
): Promise<{ replicas: Replica[]; channel: string; close(): Promise<void> }> {
  const channel = uniqueName('lib-channel');
  const { heartbeatIntervalMs = 200, ...rest } = options;
  const replicas: Replica[] = [];
  for (let i = 1; i <= count; i += 1) {
    const registry = new Registry();
    const metrics = registerSyncedCacheMetrics(registry, { cache: 'book' });
    const cache = await createSyncedCache<Item>({
      name: 'book',
      replicaId: `${channel}-${i}`,
      bus: { redis: process.env.REDIS_URL ?? '', channel, heartbeatIntervalMs },
      ...rest,
      observers: [metrics.observer, ...(rest.observers ?? [])],
    });
    replicas.push({ cache, registry, metric: (name, labels) => metricValue(registry, name, labels) });
  }
  return { replicas, channel, close: async () => void (await Promise.all(replicas.map((r) => r.cache.close()))) };
}

async function metricValue(registry: Registry, name: string, labels: Record<string, string> = {}): Promise<number> {
  const base = name.replace(/_(sum|count)$/, '');
  const metric = registry.getSingleMetric(name) ?? registry.getSingleMetric(base);
  if (!metric) throw new Error(`no metric ${name}`);
  const wanted = { cache: 'book', ...labels };
  const sample = (await metric.get()).values.find(
    (value) =>
      ((value as { metricName?: string }).metricName ?? name) === name &&
      Object.entries(wanted).every(([key, v]) => String(value.labels[key]) === v),
  );
  return sample?.value ?? 0;
}
