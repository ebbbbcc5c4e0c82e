import {
  createSyncedCache,
  type SyncedCache,
  type SyncedCacheObserver,
  type SyncedCacheOptions,
} from '@local-cache-sync/core';
import { epochOf, MemoryBus, startHeartbeats, stopHeartbeats } from '@local-cache-sync/core/testing';
import { gatedLoader, type Item, itemCaches, until } from './fixtures';

const counting = () => {
  const counts: Record<string, number> = {};
  const observer: SyncedCacheObserver<Item> = {
    onLoad: (_key, shared) => {
      if (shared) counts.coalesced = (counts.coalesced ?? 0) + 1;
      else counts.load = (counts.load ?? 0) + 1;
    },
    onMissed: (count) => {
      counts.missed = (counts.missed ?? 0) + count;
    },
  };
  return { counts, observer };
};

describe('createSyncedCache (public API, in-memory bus)', () => {
  const { make, track, closeAll } = itemCaches();
  afterEach(closeAll);

  it('concurrent misses of one key share one load; the value is cached for the next read', async () => {
    const { counts, observer } = counting();
    const cache = await make(new MemoryBus(), 'a', { observers: [observer] });
    const gate = gatedLoader(() => ({ id: '1', version: 1, title: 'one' }));
    const reads = Array.from({ length: 10 }, () => cache.getOrLoad('item:1', gate.loader));
    await until(() => gate.calls() === 1, 'the first load started');
    gate.releaseAll();
    const results = await Promise.all(reads);
    expect(gate.calls()).toBe(1);
    expect(results.every((r) => r.value?.title === 'one' && !r.hit)).toBe(true);
    expect(counts).toMatchObject({ load: 1, coalesced: 9 });
    expect(await cache.getOrLoad('item:1', gate.loader)).toEqual({
      value: expect.objectContaining({ version: 1 }),
      hit: true,
    });
  });

  it('without coalescing every concurrent miss loads', async () => {
    const cache = await make(new MemoryBus(), 'a', { loads: { coalesce: false } });
    const gate = gatedLoader(() => ({ id: '1', version: 1, title: 'one' }));
    const reads = Array.from({ length: 5 }, () => cache.getOrLoad('item:1', gate.loader));
    await until(() => gate.calls() === 5, 'five loads started');
    gate.releaseAll();
    await Promise.all(reads);
    expect(gate.calls()).toBe(5);
  });

  it('a load an invalidation overtook answers its waiters but is not cached (fill fences); later misses load again', async () => {
    const bus = new MemoryBus();
    const reader = await make(bus, 'reader', { sync: { mode: 'pubsub-flush' } });
    const writer = await make(bus, 'writer', { sync: { mode: 'pubsub-flush' } });
    await until(() => reader.trusted(), 'reader trusts its cache');
    let stored: Item = { id: '1', version: 1, title: 'old' };
    const first = gatedLoader(() => ({ id: '1', version: 1, title: 'old' }));
    const waiting = [reader.getOrLoad('item:1', first.loader), reader.getOrLoad('item:1', first.loader)];
    await until(() => first.calls() === 1, 'the load started');
    stored = { id: '1', version: 2, title: 'new' };
    await writer.announce({ keys: ['item:1'], id: '1', version: 2, op: 'update', committedAt: Date.now() });
    // Delivered by the bus; the load in flight is detached from the key at once.
    const after = gatedLoader(() => stored);
    await until(() => {
      void reader.getOrLoad('item:1', after.loader);
      return after.calls() > 0;
    }, 'a miss after the invalidation started its own load');
    first.releaseAll();
    expect((await Promise.all(waiting)).map((r) => r.value?.title)).toEqual(['old', 'old']);
    expect(reader.peek('item:1')).toBeUndefined();
    after.releaseAll();
    await until(() => reader.peek('item:1')?.version === 2, 'the newer load is cached');
  });

  it('a failed load is not cached and does not poison the next one', async () => {
    const cache = await make(new MemoryBus(), 'a');
    let fail = true;
    const loader = async () => {
      if (fail) throw new Error('database down');
      return { id: '1', version: 3, title: 'three' };
    };
    const failed = await Promise.allSettled([cache.getOrLoad('item:1', loader), cache.getOrLoad('item:1', loader)]);
    expect(failed.map((r) => r.status)).toEqual(['rejected', 'rejected']);
    expect(cache.peek('item:1')).toBeUndefined();
    fail = false;
    expect((await cache.getOrLoad('item:1', loader)).value?.version).toBe(3);
    expect(cache.peek('item:1')?.version).toBe(3);
  });

  it('announce evicts older versions on every other replica, and a missing source value is not cached', async () => {
    const bus = new MemoryBus();
    const a = await make(bus, 'a');
    const b = await make(bus, 'b');
    await b.getOrLoad('item:1', async () => ({ id: '1', version: 1, title: 'one' }));
    expect(b.peek('item:1')?.version).toBe(1);
    await a.announce({ keys: ['item:1'], id: '1', version: 2, op: 'update', committedAt: Date.now() });
    await until(() => b.peek('item:1') === undefined, 'b evicted version 1');
    expect(await b.getOrLoad('item:2', async () => null)).toEqual({ value: undefined, hit: false });
    expect(b.peek('item:2')).toBeUndefined();
  });

  it('counts the messages a replica missed while its subscriber was away', async () => {
    const bus = new MemoryBus();
    const { counts, observer } = counting();
    const a = await make(bus, 'a');
    const bTransport = bus.transport();
    const b = await createSyncedCache<Item>({
      name: 'item',
      replicaId: 'b',
      bus: { transport: bTransport, heartbeatIntervalMs: 50 },
      sync: { mode: 'pubsub' },
      observers: [observer],
    });
    track(b);
    await a.announce({ keys: ['item:1'], id: '1', version: 2, op: 'update', committedAt: Date.now() });
    await until(() => (counts.missed ?? 0) === 0 && b.trusted(), 'b heard a');
    bTransport.setConnected(false);
    for (let v = 3; v < 6; v += 1) {
      await a.announce({ keys: ['item:1'], id: '1', version: v, op: 'update', committedAt: Date.now() });
    }
    bTransport.setConnected(true);
    await a.announce({ keys: ['item:1'], id: '1', version: 6, op: 'update', committedAt: Date.now() });
    await until(() => (counts.missed ?? 0) >= 3, 'b counted what it missed');
  });

  it('tells observers given as class instances as well as plain objects', async () => {
    class Counter {
      missed = 0;
      onMissed(count: number) {
        this.missed += count;
      }
    }
    const bus = new MemoryBus();
    const counter = new Counter();
    const a = await make(bus, 'a');
    const bTransport = bus.transport();
    const b = await createSyncedCache<Item>({
      name: 'item',
      replicaId: 'b',
      bus: { transport: bTransport },
      sync: { mode: 'pubsub' },
    });
    track(b);
    b.observe(counter);
    await a.announce({ keys: ['item:1'], id: '1', version: 2, op: 'update', committedAt: Date.now() });
    bTransport.setConnected(false);
    await a.announce({ keys: ['item:1'], id: '1', version: 3, op: 'update', committedAt: Date.now() });
    bTransport.setConnected(true);
    await a.announce({ keys: ['item:1'], id: '1', version: 4, op: 'update', committedAt: Date.now() });
    await until(() => counter.missed >= 1, 'the class instance heard the gap');
  });

  it('reports every sampled hit it checked, stale or not, to its observers (the fresh-hits SLI)', async () => {
    const checked: boolean[] = [];
    let staleReads = 0;
    const cache = await make(new MemoryBus(), 'a', {
      // Record 1 has a newer version written long ago; record 2 has none.
      audit: { writtenAfter: async (id) => (id === '1' ? Date.now() - 60_000 : undefined), sampleRate: 1 },
      observers: [
        {
          onHitChecked: (stale, age) => {
            checked.push(stale);
            if (age !== undefined) staleReads += 1;
          },
        },
      ],
    });
    cache.auditHit({ id: '1', version: 1, title: 'old' }, Date.now());
    cache.auditHit({ id: '2', version: 1, title: 'current' }, Date.now());
    await until(() => checked.length === 2, 'both hits checked');
    expect(checked.sort()).toEqual([false, true]);
    expect(staleReads).toBe(1);
  });

  it('refuses bad options with a clear error that names the option', async () => {
    const bus = new MemoryBus();
    const transport = bus.transport();
    const refused = (options: unknown) => createSyncedCache(options as SyncedCacheOptions);
    await expect(refused({ name: 'bad name!', bus: { transport } })).rejects.toThrow(/createSyncedCache: name must be/);
    await expect(refused({ name: 'item' })).rejects.toThrow(/bus is required/);
    await expect(refused({ name: 'item', bus: {} })).rejects.toThrow(/bus.redis or bus.transport: give exactly one/);
    await expect(refused({ name: 'item', bus: { transport }, cache: { ttlSeconds: -1 } })).rejects.toThrow(
      /cache.ttlSeconds must be a positive number/,
    );
    await expect(refused({ name: 'item', bus: { transport }, sync: { mode: 'lossy' } })).rejects.toThrow(
      /sync.mode must be pubsub, pubsub-flush, stream/,
    );
    // 0.1 spellings are refused with where they went, not ignored.
    await expect(refused({ name: 'item', transport, mode: 'pubsub' })).rejects.toThrow(/transport moved in 0.2.0/);
  });

  it.each([
    [{ sync: { mode: 'pubsub', silenceMs: 100 } }, /sync.silenceMs does nothing in pubsub mode/],
    [{ sync: { mode: 'pubsub', fenceMs: 100 } }, /sync.fenceMs does nothing in pubsub mode/],
    [{ sync: { mode: 'pubsub', jitterMs: 10 } }, /sync.jitterMs does nothing in pubsub mode/],
    [{ sync: { mode: 'pubsub', publishRetryMs: 10 } }, /sync.publishRetryMs does nothing in pubsub mode/],
    [{ sync: { mode: 'pubsub-flush', streamMaxLen: 10 } }, /sync.streamMaxLen does nothing in pubsub-flush mode/],
    [{ sync: { mode: 'stream', streamMaxLen: 10 } }, /sync.streamMaxLen does nothing with bus.transport/],
    [{ sync: { mode: 'pubsub' }, outbox: { store: {} } }, /outbox does nothing in pubsub mode/],
    [{ loads: { coalesce: false, shareMs: 10 } }, /loads.shareMs does nothing with loads.coalesce false/],
  ])('refuses an option that does nothing in the chosen setup: %j', async (extra, error) => {
    const options = { name: 'item', bus: { transport: new MemoryBus().transport() }, ...extra };
    await expect(createSyncedCache(options as unknown as SyncedCacheOptions)).rejects.toThrow(error);
  });

  it('generates a replica id when none is given, unique per cache, and reports it when started', async () => {
    const bus = new MemoryBus();
    const started: string[] = [];
    const observers = [{ onStarted: (info: { replicaId: string }) => started.push(info.replicaId) }];
    const a = await createSyncedCache<Item>({ name: 'item', bus: { transport: bus.transport() }, observers });
    const b = await createSyncedCache<Item>({ name: 'item', bus: { transport: bus.transport() }, observers });
    track(a, b);
    expect(started).toEqual([a.replicaId, b.replicaId]);
    expect(a.replicaId).not.toBe(b.replicaId);
    expect(a.replicaId).toMatch(/^[A-Za-z0-9_.:-]{1,64}$/);
  });

  it('announce fills committedAt when it is not given, and the change evicts on the other replica', async () => {
    const bus = new MemoryBus();
    const a = await make(bus, 'a');
    const b = await make(bus, 'b');
    await b.getOrLoad('item:1', async () => ({ id: '1', version: 1, title: 'one' }));
    const windows: number[] = [];
    b.observe({ onInvalidation: (applied) => windows.push(applied.staleWindowSeconds ?? Number.NaN) });
    await a.announce({ keys: ['item:1'], id: '1', version: 2, op: 'update' });
    await until(() => b.peek('item:1') === undefined, 'b evicted');
    expect(windows).toHaveLength(1);
    expect(windows[0]).toBeGreaterThan(0);
    expect(windows[0]).toBeLessThan(5);
  });

  it('keeps its test hooks off the public class, in /testing', async () => {
    const a = await make(new MemoryBus(), 'a');
    expect(['stopHeartbeats', 'startHeartbeats', 'epoch'].filter((name) => name in a)).toEqual([]);
    expect(epochOf(a)).toMatch(/^[0-9a-f]+$/);
    stopHeartbeats(a);
    startHeartbeats(a);
    expect(() => epochOf({} as SyncedCache<Item>)).toThrow(/not a cache made by createSyncedCache/);
  });
});
