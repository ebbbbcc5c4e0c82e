import { createSyncedCache, type SyncedCache, type SyncedCacheOptions } from '@local-cache-sync/core';
import { MemoryBus } from '@local-cache-sync/core/testing';
import type { Book } from '../../service/src/books/book';
import { BENCH_BOOK } from '../../service/src/http/bench-routes';

export interface GuardedHitCost {
  /** Nanoseconds per awaited getOrLoad hit, a synced cache with nothing but defaults, one value per repetition. */
  plainNs: number[];
  /** With tags (the entry and every call carry two) and fail-safe (grace), soft and hard timeouts, interleaved (absent before tags). */
  taggedNs?: number[];
  /** The same as tagged, and eager refresh (every hit checks the entry's age), interleaved. */
  guardedNs: number[];
}

const KEY = 'id:6566f0c1a1b2c3d4e5f60718';
const TAGS = ['author:Frank Herbert', 'book:6566f0c1a1b2c3d4e5f60718'];

/**
 * getOrLoad hits on three synced caches on one in-memory bus (no Redis: only the hit path is
 * measured), plain, tagged with fail-safe and timeouts, and that with eager refresh, `repeats`
 * interleaved runs of each.
 */
export async function guardedHitCost(rounds: number, repeats: number): Promise<GuardedHitCost> {
  const bus = new MemoryBus();
  const book = { ...BENCH_BOOK, id: '6566f0c1a1b2c3d4e5f60718', version: 1 } as unknown as Book;
  const loader = async () => book;
  const guards: Partial<SyncedCacheOptions<Book>> = {
    failSafe: { graceSeconds: 3600 },
    loads: { softTimeoutMs: 100, hardTimeoutMs: 1000 },
  };
  const make = (extra: Partial<SyncedCacheOptions<Book>>) =>
    createSyncedCache<Book>({
      name: 'book',
      bus: { transport: bus.transport() },
      sync: { mode: 'pubsub' },
      cache: { ttlSeconds: 300 },
      ...extra,
    });
  const caches = {
    plain: await make({}),
    tagged: await make(guards),
    guarded: await make({ ...guards, loads: { ...guards.loads, eagerRefresh: 0.9 } }),
  };
  const time = async (cache: SyncedCache<Book>, options?: { tags: string[] }) => {
    for (let i = 0; i < Math.min(rounds, 100_000); i += 1) await cache.getOrLoad(KEY, loader, options);
    const started = process.hrtime.bigint();
    for (let i = 0; i < rounds; i += 1)
      if (!(await cache.getOrLoad(KEY, loader, options)).hit) throw new Error('read missed');
    return Number(process.hrtime.bigint() - started) / rounds;
  };
  const tagged = { tags: TAGS };
  const result = { plainNs: [] as number[], taggedNs: [] as number[], guardedNs: [] as number[] };
  try {
    for (let i = 0; i < repeats; i += 1) {
      result.plainNs.push(await time(caches.plain));
      result.taggedNs.push(await time(caches.tagged, tagged));
      result.guardedNs.push(await time(caches.guarded, tagged));
    }
  } finally {
    await Promise.all(Object.values(caches).map((cache) => cache.close()));
  }
  return result;
}
