import { createSyncedCache, type SyncedCache } from '@local-cache-sync/core';
import { MemoryBus } from '@local-cache-sync/core/testing';
import type { Book } from '../../service/src/books/book';
import { BENCH_BOOK } from '../../service/src/http/bench-routes';

export interface GuardedHitCost {
  /** Nanoseconds per awaited getOrLoad hit, a synced cache with nothing but defaults, one value per repetition. */
  plainNs: number[];
  /** The same with fail-safe (grace), soft and hard timeouts and eager refresh configured, interleaved. */
  guardedNs: number[];
}

const KEY = 'id:6566f0c1a1b2c3d4e5f60718';

/**
 * getOrLoad hits on two synced caches on one in-memory bus (no Redis: only the hit path is
 * measured), one plain and one with every load guard on, `repeats` interleaved runs of each.
 */
export async function guardedHitCost(rounds: number, repeats: number): Promise<GuardedHitCost> {
  const bus = new MemoryBus();
  const book = { ...BENCH_BOOK, id: '6566f0c1a1b2c3d4e5f60718', version: 1 } as unknown as Book;
  const loader = async () => book;
  const make = (guarded: boolean) =>
    createSyncedCache<Book>({
      name: 'book',
      bus: { transport: bus.transport() },
      sync: { mode: 'pubsub' },
      cache: { ttlSeconds: 300 },
      ...(guarded && {
        failSafe: { graceSeconds: 3600 },
        loads: { softTimeoutMs: 100, hardTimeoutMs: 1000, eagerRefresh: 0.9 },
      }),
    });
  const caches = { plain: await make(false), guarded: await make(true) };
  const time = async (cache: SyncedCache<Book>) => {
    for (let i = 0; i < Math.min(rounds, 100_000); i += 1) await cache.getOrLoad(KEY, loader);
    const started = process.hrtime.bigint();
    for (let i = 0; i < rounds; i += 1) if (!(await cache.getOrLoad(KEY, loader)).hit) throw new Error('read missed');
    return Number(process.hrtime.bigint() - started) / rounds;
  };
  const result: GuardedHitCost = { plainNs: [], guardedNs: [] };
  try {
    for (let i = 0; i < repeats; i += 1) {
      result.plainNs.push(await time(caches.plain));
      result.guardedNs.push(await time(caches.guarded));
    }
  } finally {
    await caches.plain.close();
    await caches.guarded.close();
  }
  return result;
}
