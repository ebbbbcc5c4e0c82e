import { LoadTimeoutError, type StaleReason, type SyncedCache } from '@local-cache-sync/core';
import { MemoryBus } from '@local-cache-sync/core/testing';
import { gatedLoader, type Item, itemCaches, until } from './fixtures';

const item = (version: number): Item => ({ id: '1', version, title: `v${version}` });

const failing = async (): Promise<Item> => {
  throw new Error('database down');
};

describe('fail-safe and timeouts (in-memory bus)', () => {
  const served: [string, StaleReason][] = [];
  const background: string[] = [];
  const { make, closeAll } = itemCaches({
    cache: { ttlSeconds: 0.1 },
    failSafe: { graceSeconds: 60, throttleMs: 60_000 },
    observers: [
      {
        onServedStale: (key, reason) => served.push([key, reason]),
        onBackgroundLoad: (_key, outcome, cause) =>
          background.push(cause === 'refresh' ? `refresh ${outcome}` : outcome),
      },
    ],
  });
  /** Loads v1 into `cache`, then waits until its TTL passed (a read of an expired entry evicts it). */
  const loadThenExpire = async (cache: SyncedCache<Item>, key = 'item:1') => {
    await cache.getOrLoad(key, async () => item(1));
    await until(() => cache.peek(key) === undefined, 'the entry expired');
  };
  afterEach(async () => {
    await closeAll();
    served.length = 0;
    background.length = 0;
  });

  it('refuses options that cannot work: grace shorter than the TTL, a soft timeout with nothing to answer', async () => {
    const bus = new MemoryBus();
    await expect(make(bus, 'a', { cache: { ttlSeconds: 120 }, failSafe: { graceSeconds: 60 } })).rejects.toThrow(
      'createSyncedCache: failSafe.graceSeconds must be at least cache.ttlSeconds (120)',
    );
    await expect(make(bus, 'a', { failSafe: undefined, loads: { softTimeoutMs: 10 } })).rejects.toThrow(
      'loads.softTimeoutMs does nothing without failSafe',
    );
    await expect(make(bus, 'a', { loads: { softTimeoutMs: 100, hardTimeoutMs: 100 } })).rejects.toThrow(
      'loads.softTimeoutMs must be shorter than loads.hardTimeoutMs',
    );
    await expect(make(bus, 'a', { loads: { maxBackground: 5 } })).rejects.toThrow(
      'loads.maxBackground does nothing without loads.softTimeoutMs',
    );
  });

  it('answers an expired value, marked stale with its age, when the load fails; then throttles the key', async () => {
    const cache = await make(new MemoryBus(), 'a');
    await loadThenExpire(cache);
    const answer = await cache.getOrLoad('item:1', failing);
    expect(answer).toEqual({ value: item(1), hit: false, stale: { reason: 'load_failed', ageMs: expect.any(Number) } });
    expect(answer.stale!.ageMs).toBeGreaterThanOrEqual(100);
    // Within the throttle the database is not asked again.
    let calls = 0;
    const again = await cache.getOrLoad('item:1', async () => {
      calls += 1;
      return item(2);
    });
    expect([calls, again.stale?.reason, again.value]).toEqual([0, 'throttled', item(1)]);
    expect(served).toEqual([
      ['item:1', 'load_failed'],
      ['item:1', 'throttled'],
    ]);
    // A key with no fallback gets the loader's error.
    await expect(cache.getOrLoad('item:2', failing)).rejects.toThrow('database down');
  });

  it('never answers an invalidated value unless asked to, nor an expired one invalidated since', async () => {
    const bus = new MemoryBus();
    const reader = await make(bus, 'reader', { cache: { ttlSeconds: 60 } });
    const writer = await make(bus, 'writer', { cache: { ttlSeconds: 60 } });
    await reader.getOrLoad('item:1', async () => item(1));
    await writer.announce({ keys: ['item:1'], id: '1', version: 2, op: 'update' });
    await until(() => reader.peek('item:1') === undefined, 'the invalidation evicted v1');
    await expect(reader.getOrLoad('item:1', failing)).rejects.toThrow('database down');

    const expiring = await make(bus, 'expiring');
    let applied = 0;
    expiring.observe({ onInvalidation: () => (applied += 1) });
    await loadThenExpire(expiring, 'item:2');
    await writer.announce({ keys: ['item:2'], id: '1', version: 2, op: 'update' });
    await until(() => applied === 1, 'the invalidation reached the replica whose entry had expired');
    await expect(expiring.getOrLoad('item:2', failing)).rejects.toThrow('database down');

    const opted = await make(bus, 'opted', {
      cache: { ttlSeconds: 60 },
      failSafe: { graceSeconds: 60, serveInvalidated: true },
    });
    await opted.getOrLoad('item:1', async () => item(1));
    await writer.announce({ keys: ['item:1'], id: '1', version: 3, op: 'update' });
    await until(() => opted.peek('item:1') === undefined, 'the invalidation evicted v1');
    expect((await opted.getOrLoad('item:1', failing)).stale?.reason).toBe('load_failed');
  });

  it('hard timeout: aborts the loader signal; rejects with a LoadTimeoutError, or answers the fallback', async () => {
    const cache = await make(new MemoryBus(), 'a', { loads: { hardTimeoutMs: 50 } });
    const hung = gatedLoader(() => item(9));
    const error = await cache.getOrLoad('item:2', hung.loader).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LoadTimeoutError);
    expect(error).toMatchObject({ key: 'item:2', timeoutMs: 50, message: expect.stringContaining('item:2') });
    expect(hung.signals[0]!.aborted).toBe(true);
    // A loader that ignores its signal and answers late: an aborted load is never cached.
    hung.releaseAll();
    await new Promise((resolve) => setImmediate(resolve));
    expect(cache.peek('item:2')).toBeUndefined();

    await loadThenExpire(cache);
    const slow = gatedLoader(() => item(2));
    const answer = await cache.getOrLoad('item:1', slow.loader);
    expect([answer.value, answer.stale?.reason]).toEqual([item(1), 'hard_timeout']);
    slow.releaseAll();
  });

  it('soft timeout: answers the fallback, and the load finishing in the background is cached', async () => {
    // The fallback comes from an invalidation here (opted in), so the entry the background load
    // caches lives 60 s: the check below cannot race its expiry.
    const bus = new MemoryBus();
    const extra = { cache: { ttlSeconds: 60 }, failSafe: { graceSeconds: 60, serveInvalidated: true } };
    const cache = await make(bus, 'a', { ...extra, loads: { softTimeoutMs: 20 } });
    const writer = await make(bus, 'writer', extra);
    await cache.getOrLoad('item:1', async () => item(1));
    await writer.announce({ keys: ['item:1'], id: '1', version: 2, op: 'update' });
    await until(() => cache.peek('item:1') === undefined, 'the invalidation evicted v1');
    const slow = gatedLoader(() => item(2));
    const answer = await cache.getOrLoad('item:1', slow.loader);
    expect([answer.value, answer.stale?.reason]).toEqual([item(1), 'soft_timeout']);
    slow.releaseAll();
    await until(() => background.length === 2, 'the background load settled');
    expect(background).toEqual(['started', 'cached']);
    expect(cache.peek('item:1')).toEqual(item(2));
  });

  it('soft timeout: a background load overtaken by an invalidation is not cached (fenced from its start)', async () => {
    const bus = new MemoryBus();
    const reader = await make(bus, 'reader', { loads: { softTimeoutMs: 20 } });
    const writer = await make(bus, 'writer');
    await loadThenExpire(reader);
    // The load reads v2; version 3 is written and announced while it runs.
    const slow = gatedLoader(() => item(2));
    const answer = await reader.getOrLoad('item:1', slow.loader);
    expect(answer.stale?.reason).toBe('soft_timeout');
    await writer.announce({ keys: ['item:1'], id: '1', version: 3, op: 'update' });
    slow.releaseAll();
    await until(() => background.length === 2, 'the background load settled');
    expect(background).toEqual(['started', 'discarded']);
    expect(reader.peek('item:1')).toBeUndefined();
  });

  it("a caller's abort ends its wait with the signal's reason; an aborted caller never starts a load", async () => {
    const cache = await make(new MemoryBus(), 'a');
    const gate = gatedLoader(() => item(1));
    const controller = new AbortController();
    const reading = cache.getOrLoad('item:1', gate.loader, { signal: controller.signal });
    await until(() => gate.calls() === 1, 'the load started');
    controller.abort(new Error('client went away'));
    await expect(reading).rejects.toThrow('client went away');
    await expect(cache.getOrLoad('item:1', gate.loader, { signal: controller.signal })).rejects.toThrow(
      'client went away',
    );
    expect(gate.calls()).toBe(1);
    gate.releaseAll();
  });
  it('eager refresh: a key read steadily never misses on expiry', async () => {
    // Refreshed from 300 ms of age on, expiring at 1 s. The clock is Jest's, so a busy machine
    // cannot stretch the gap between two reads: every read is 20 ms after the one before. Made
    // under that clock, so the cache's own (coarse) clock ticks with it.
    jest.useFakeTimers({ doNotFake: ['nextTick', 'queueMicrotask', 'setImmediate'] });
    try {
      const cache = await make(new MemoryBus(), 'a', { cache: { ttlSeconds: 1 }, loads: { eagerRefresh: 0.3 } });
      let loads = 0;
      const loader = async () => item(++loads);
      const answers: boolean[] = [];
      for (let step = 0; step < 150; step += 1) {
        answers.push((await cache.getOrLoad('item:1', loader)).hit);
        await new Promise((resolve) => setImmediate(resolve)); // a refresh started by the read completes
        jest.advanceTimersByTime(20);
      }
      // Three seconds of reads, three TTLs: only the first read missed.
      expect(answers.filter((hit) => !hit)).toHaveLength(1);
      expect(loads).toBeGreaterThanOrEqual(3);
      expect(background.filter((b) => b === 'refresh cached').length).toBe(loads - 1);
    } finally {
      jest.useRealTimers();
    }
  });

  it('eager refresh racing an invalidation: the version it read is not cached (FusionCache#628)', async () => {
    const bus = new MemoryBus();
    const reader = await make(bus, 'reader', { cache: { ttlSeconds: 60 }, loads: { eagerRefresh: 0.001 } });
    const writer = await make(bus, 'writer', { cache: { ttlSeconds: 60 } });
    await reader.getOrLoad('item:1', async () => item(1));
    await new Promise((resolve) => setTimeout(resolve, 70)); // past 0.1 % of 60 s
    // The refresh reads version 1 again; version 2 is written and announced while it runs.
    const refresh = gatedLoader(() => item(1));
    expect((await reader.getOrLoad('item:1', refresh.loader)).hit).toBe(true);
    expect(refresh.calls()).toBe(1);
    let applied = 0;
    reader.observe({ onInvalidation: () => (applied += 1) });
    await writer.announce({ keys: ['item:1'], id: '1', version: 2, op: 'update' });
    await until(() => applied === 1, 'the invalidation arrived');
    refresh.releaseAll();
    await until(() => background.length === 2, 'the refresh settled');
    expect(background).toEqual(['refresh started', 'refresh discarded']);
    expect(reader.peek('item:1')).toBeUndefined();
  });
});
