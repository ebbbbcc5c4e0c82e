import { EventChannel, LocalCache } from '@local-cache-sync/core/testing';
import autocannon from 'autocannon';
import { Redis } from 'ioredis';
import type { Book } from '../../service/src/books/book';
import { BookRepository } from '../../service/src/books/book-repository';
import { BENCH_BOOK } from '../../service/src/http/bench-routes';
import { createMetrics } from '../../service/src/telemetry/metrics';
import { type BenchServers, postBook, ratio } from '../servers';

export interface ReadPathRow {
  path: 'bare Koa (constant)' | 'local cache' | 'Redis global cache' | 'MongoDB direct';
  requestsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  /** Requests per second as a fraction of the bare Koa route's. */
  ofBare: number;
}

export interface ReadPathOptions {
  durationSeconds: number;
  connections: number;
  /** Every path this many times, interleaved (a row per run, in the order measured). */
  repeats: number;
}

/**
 * GET /books/:id on one replica process, served from each source in turn by the same Koa app
 * (same middleware, metrics and tracing), loaded by autocannon from this process.
 */
export async function readPathBench(servers: BenchServers, options: ReadPathOptions): Promise<ReadPathRow[]> {
  const replica = await servers.replica('bench-read', { BENCH_ROUTES: '1' });
  try {
    const { id } = await postBook(replica.url, BENCH_BOOK); // the same size as the constant route's book
    const paths: [ReadPathRow['path'], string, string][] = [
      ['bare Koa (constant)', '/bench/constant', 'HIT'],
      ['local cache', `/books/${id}`, 'HIT'],
      ['Redis global cache', `/bench/redis/books/${id}`, 'HIT'],
      ['MongoDB direct', `/bench/mongo/books/${id}`, 'MISS'],
    ];
    const rows: ReadPathRow[] = [];
    for (let i = 0; i < options.repeats; i += 1) {
      const measured: Omit<ReadPathRow, 'ofBare'>[] = [];
      for (const [path, route, expectedCache] of paths) {
        // Warm: the first read fills the cache it reads from.
        for (let warm = 0; warm < 2; warm += 1) await fetch(`${replica.url}${route}`);
        const check = await fetch(`${replica.url}${route}`);
        if (check.status !== 200 || check.headers.get('x-cache') !== expectedCache) {
          throw new Error(
            `${path}: expected 200 ${expectedCache}, got ${check.status} ${check.headers.get('x-cache')}`,
          );
        }
        const result = await autocannon({
          url: `${replica.url}${route}`,
          connections: options.connections,
          duration: options.durationSeconds,
        });
        if (result.non2xx > 0 || result.errors > 0)
          throw new Error(`${path}: ${result.non2xx} non-2xx, ${result.errors} errors`);
        measured.push({
          path,
          requestsPerSecond: result.requests.average,
          p50Ms: result.latency.p50,
          p99Ms: result.latency.p99,
        });
      }
      const bare = measured[0]!.requestsPerSecond;
      rows.push(...measured.map((row) => ({ ...row, ofBare: ratio(row.requestsPerSecond, bare) })));
    }
    return rows;
  } finally {
    await replica.stop();
  }
}

export interface ReadCostRow {
  source: 'local cache' | 'Redis global cache' | 'MongoDB';
  /** Microseconds per read, one read at a time, inside a process: no HTTP, no Koa, no tracing. */
  microsPerRead: number;
}

/** What one read costs from each source once the HTTP layer is taken away. */
export async function readCostBench(
  servers: BenchServers,
  rounds: { local: number; redis: number; mongo: number },
): Promise<ReadCostRow[]> {
  const repository = await BookRepository.connect(servers.mongoUri);
  const redis = new Redis(servers.redisUrl);
  const cache = new LocalCache<Book>({ ttlSeconds: 300, maxKeys: 1000 });
  try {
    const { after: book } = await repository.create({ ...BENCH_BOOK, name: `${BENCH_BOOK.name} (read cost)` });
    cache.set(`id:${book.id}`, book);
    await redis.set(`bench:cost:${book.id}`, JSON.stringify(book));
    const time = async (count: number, read: () => unknown): Promise<number> => {
      for (let i = 0; i < Math.min(count, 1000); i += 1) await read();
      const started = process.hrtime.bigint();
      for (let i = 0; i < count; i += 1) if (!(await read())) throw new Error('read missed');
      return Number(process.hrtime.bigint() - started) / 1000 / count;
    };
    // The service reads its local cache synchronously: timed without an await per read.
    const timeSync = (count: number, read: () => unknown): number => {
      for (let i = 0; i < Math.min(count, 100_000); i += 1) read();
      const started = process.hrtime.bigint();
      for (let i = 0; i < count; i += 1) if (!read()) throw new Error('read missed');
      return Number(process.hrtime.bigint() - started) / 1000 / count;
    };
    return [
      { source: 'local cache', microsPerRead: timeSync(rounds.local, () => cache.get(`id:${book.id}`)) },
      {
        source: 'Redis global cache',
        microsPerRead: await time(rounds.redis, async () =>
          JSON.parse((await redis.get(`bench:cost:${book.id}`)) ?? 'null'),
        ),
      },
      { source: 'MongoDB', microsPerRead: await time(rounds.mongo, () => repository.findById(book.id)) },
    ];
  } finally {
    cache.close();
    redis.disconnect();
    await repository.close();
  }
}

export interface HitPathCost {
  /** Nanoseconds per get, a bare LocalCache, one value per repetition. */
  bareNs: number[];
  /** The same with the replica's cache observer (metrics) attached, interleaved with the bare runs. */
  withMetricsNs: number[];
}

/** A local hit alone, and with what a replica hangs on it (cacheMetricsObserver), `repeats` times each. */
export function hitPathCost(rounds: number, repeats: number): HitPathCost {
  const make = (withMetrics: boolean) => {
    // As in a replica: the cache emits into the synced cache's event channel, which the metrics observer listens to.
    const events = new EventChannel<Book>();
    if (withMetrics) events.listen(createMetrics('book').synced.observer);
    const cache = new LocalCache<Book>({ ttlSeconds: 300, maxKeys: 1000, events: events.emit });
    const book = { ...BENCH_BOOK, id: '6566f0c1a1b2c3d4e5f60718', version: 1 } as unknown as Book;
    cache.set(`id:${book.id}`, book);
    return cache;
  };
  const time = (cache: LocalCache<Book>) => {
    const key = 'id:6566f0c1a1b2c3d4e5f60718';
    for (let i = 0; i < Math.min(rounds, 100_000); i += 1) cache.get(key);
    const started = process.hrtime.bigint();
    for (let i = 0; i < rounds; i += 1) if (!cache.get(key)) throw new Error('read missed');
    return Number(process.hrtime.bigint() - started) / rounds;
  };
  const caches = { bare: make(false), withMetrics: make(true) };
  const result: HitPathCost = { bareNs: [], withMetricsNs: [] };
  try {
    for (let i = 0; i < repeats; i += 1) {
      result.bareNs.push(time(caches.bare));
      result.withMetricsNs.push(time(caches.withMetrics));
    }
  } finally {
    caches.bare.close();
    caches.withMetrics.close();
  }
  return result;
}
