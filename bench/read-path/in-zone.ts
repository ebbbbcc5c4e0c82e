import { Agent, request } from 'node:http';
import { nearestRank } from '@local-cache-sync/core/prometheus';
import autocannon from 'autocannon';
import { Redis } from 'ioredis';
import { type ToxicProxy, Toxiproxy } from '../../service/local-stack/toxiproxy';
import { BENCH_BOOK } from '../../service/src/http/bench-routes';
import { type BenchServers, postBook } from '../servers';

export const IN_ZONE_PATHS = ['local cache', 'Redis global cache', 'MongoDB direct'] as const;
export type InZonePath = (typeof IN_ZONE_PATHS)[number];

export interface InZoneRun {
  path: InZonePath;
  /** Latency at a fixed offered load (open loop, `offeredRate` requests/s), exact per request. */
  p50Ms: number;
  p99Ms: number;
  /** Requests per second at a fixed concurrency (autocannon). */
  requestsPerSecond: number;
}

export interface InZoneResult {
  /** The latency toxic, each way that has one (Toxiproxy's unit is the whole millisecond). */
  toxicMs: number;
  /** Redis PING round trip, median of many, straight and through the proxy with its toxic. */
  pingDirectMs: number;
  pingProxiedMs: number;
  offeredRate: number;
  runs: InZoneRun[];
}

/** Sends GET `url` at `rate` per second for `seconds` whatever the answers' pace (open loop); each latency exact. */
async function openLoop(url: string, rate: number, seconds: number): Promise<number[]> {
  const agent = new Agent({ keepAlive: true, maxSockets: 64 });
  const latencies: number[] = [];
  const pending: Promise<void>[] = [];
  const total = Math.round(rate * seconds);
  const started = performance.now();
  const get = () =>
    new Promise<void>((resolve, reject) => {
      const sent = performance.now();
      request(url, { agent }, (response) => {
        response.resume();
        response.on('end', () => {
          if (response.statusCode !== 200) reject(new Error(`${url}: ${response.statusCode}`));
          latencies.push(performance.now() - sent);
          resolve();
        });
      })
        .on('error', reject)
        .end();
    });
  try {
    for (let i = 0; i < total; i += 1) {
      const due = started + (i * 1000) / rate;
      const wait = due - performance.now();
      if (wait > 1) await new Promise((resolve) => setTimeout(resolve, wait));
      pending.push(get());
    }
    await Promise.all(pending);
  } finally {
    agent.destroy();
  }
  return latencies;
}

async function pingMs(url: string, rounds: number): Promise<number> {
  const redis = new Redis(url);
  try {
    const samples: number[] = [];
    for (let i = 0; i < rounds; i += 1) {
      const sent = performance.now();
      await redis.ping();
      samples.push(performance.now() - sent);
    }
    return nearestRank(Float64Array.from(samples).sort(), 0.5);
  } finally {
    redis.disconnect();
  }
}

/**
 * The read path with Redis and MongoDB behind Toxiproxy with a latency toxic on each response, so
 * that a network round trip costs what it costs between machines rather than on loopback. One
 * replica reaches both servers through the proxies; each source is read at a fixed offered load
 * (latency) and at a fixed concurrency (throughput), the sources interleaved `repeats` times.
 */
export async function inZoneBench(
  servers: BenchServers,
  options: { toxicMs: number; offeredRate: number; seconds: number; connections: number; repeats: number },
): Promise<InZoneResult> {
  const toxiproxy = await Toxiproxy.start();
  try {
    const redisUrl = new URL(servers.redisUrl);
    const mongoUri = new URL(servers.mongoUri);
    const slow = async (name: string, port: number): Promise<ToxicProxy> => {
      const proxy = await toxiproxy.proxy(name, port);
      await proxy.latency(options.toxicMs, 'downstream');
      return proxy;
    };
    const redisProxy = await slow('redis', Number(redisUrl.port));
    const mongoProxy = await slow('mongo', Number(mongoUri.port));
    const proxied = (url: URL, port: number) => {
      const copy = new URL(url.href);
      copy.port = String(port);
      return copy.href.replace(/\/$/, '');
    };
    const pingDirectMs = await pingMs(servers.redisUrl, 200);
    const pingProxiedMs = await pingMs(proxied(redisUrl, redisProxy.port), 200);
    const replica = await servers.replica('bench-in-zone', {
      BENCH_ROUTES: '1',
      REDIS_URL: proxied(redisUrl, redisProxy.port),
      MONGODB_URI: proxied(mongoUri, mongoProxy.port),
    });
    try {
      const { id } = await postBook(replica.url, { ...BENCH_BOOK, name: `${BENCH_BOOK.name} (in zone)` });
      const routes: Record<InZonePath, string> = {
        'local cache': `/books/${id}`,
        'Redis global cache': `/bench/redis/books/${id}`,
        'MongoDB direct': `/bench/mongo/books/${id}`,
      };
      const runs: InZoneRun[] = [];
      for (let i = 0; i < options.repeats; i += 1) {
        for (const path of IN_ZONE_PATHS) {
          const url = `${replica.url}${routes[path]}`;
          for (let warm = 0; warm < 3; warm += 1) await fetch(url);
          const latencies = Float64Array.from(await openLoop(url, options.offeredRate, options.seconds)).sort();
          const loaded = await autocannon({ url, connections: options.connections, duration: options.seconds });
          if (loaded.non2xx > 0 || loaded.errors > 0) throw new Error(`${path}: ${loaded.non2xx} non-2xx`);
          runs.push({
            path,
            p50Ms: nearestRank(latencies, 0.5),
            p99Ms: nearestRank(latencies, 0.99),
            requestsPerSecond: loaded.requests.average,
          });
        }
      }
      return { toxicMs: options.toxicMs, pingDirectMs, pingProxiedMs, offeredRate: options.offeredRate, runs };
    } finally {
      await replica.stop();
    }
  } finally {
    await toxiproxy.destroy();
  }
}
