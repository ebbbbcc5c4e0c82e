import type { SyncedCacheOptions } from '../src/index';
import { gatedLoader, until } from './fixtures';
import { type Item, startReplicas } from './redis-fixtures';

const SIGNING = { keys: `t1:${'k'.repeat(32)}` };
const item = (version: number): Item => ({ id: '1', version });

/** A reader and a writer on Redis (stream, signed), both trusting their caches; the reader's background loads' outcomes. */
async function readerAndWriter(extra: Omit<SyncedCacheOptions<Item>, 'name' | 'bus'>) {
  const outcomes: string[] = [];
  const started = await startReplicas(2, {
    sync: { mode: 'stream' },
    signing: SIGNING,
    ...extra,
    observers: [{ onBackgroundLoad: (_key, outcome) => outcomes.push(outcome) }],
  });
  const [reader, writer] = started.replicas as [(typeof started.replicas)[0], (typeof started.replicas)[0]];
  await until(() => reader.cache.trusted() && writer.cache.trusted(), 'both trust their caches');
  return { reader, writer, outcomes, close: started.close };
}

/**
 * Loads no caller waits for, on real Redis (stream mode, signed): one left running after a soft
 * timeout, and an eager refresh, each overtaken by an invalidation that a peer announces while it
 * runs. Both read the older version; neither may cache it.
 */
describe('late loads racing an invalidation, on Redis', () => {
  it('a soft timeout: the fallback answers, the late load is discarded, the older version never cached', async () => {
    const { reader, writer, outcomes, close } = await readerAndWriter({
      cache: { ttlSeconds: 0.2 },
      failSafe: { graceSeconds: 60 },
      loads: { softTimeoutMs: 20 },
    });
    try {
      await reader.cache.getOrLoad('item:1', async () => item(1));
      await until(() => reader.cache.peek('item:1') === undefined, 'the entry expired (TTL 200 ms)');
      // Expected: the load (reading version 2) outlasts the soft timeout, so the kept version 1
      // answers, marked stale; version 3 is announced while the load runs, so when it ends its
      // result is discarded: nothing is cached, and the next read loads version 3.
      const slow = gatedLoader(() => item(2));
      const answer = await reader.cache.getOrLoad('item:1', slow.loader);
      expect([answer.value, answer.stale?.reason]).toEqual([item(1), 'soft_timeout']);
      await writer.cache.announce({ keys: ['item:1'], id: '1', version: 3, op: 'update' });
      let received = 0;
      await until(() => {
        void reader.metric('cache_invalidations_received_total').then((n) => (received = n));
        return received >= 1;
      }, 'the invalidation reached the reader');
      slow.releaseAll();
      await until(() => outcomes.length === 2, 'the background load settled');
      expect([outcomes, reader.cache.peek('item:1')]).toEqual([['started', 'discarded'], undefined]);
      expect((await reader.cache.getOrLoad('item:1', async () => item(3))).value).toEqual(item(3));
    } finally {
      await close();
    }
  });

  it('an eager refresh: the version it read is not cached (FusionCache#628)', async () => {
    const { reader, writer, outcomes, close } = await readerAndWriter({
      cache: { ttlSeconds: 60 },
      loads: { eagerRefresh: 0.001 },
    });
    try {
      await reader.cache.getOrLoad('item:1', async () => item(1));
      // Expected: a hit past 0.1 % of the TTL (60 ms) starts one refresh, which reads version 1
      // again; version 2 is announced while it runs, so its result is discarded and the entry
      // stays evicted.
      const refresh = gatedLoader(() => item(1));
      await until(() => {
        void reader.cache.getOrLoad('item:1', refresh.loader);
        return refresh.calls() === 1;
      }, 'a hit started the refresh');
      await writer.cache.announce({ keys: ['item:1'], id: '1', version: 2, op: 'update' });
      await until(() => reader.cache.peek('item:1') === undefined, 'the invalidation evicted version 1');
      refresh.releaseAll();
      await until(() => outcomes.length === 2, 'the refresh settled');
      expect([outcomes, reader.cache.peek('item:1')]).toEqual([['started', 'discarded'], undefined]);
    } finally {
      await close();
    }
  });
});
