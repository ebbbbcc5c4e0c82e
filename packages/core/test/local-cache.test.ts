import { waitFor } from '../../../service/local-stack/processes';
import { type EvictionReason, LocalCache } from '../src/cache/local-cache';

interface Item {
  id: string;
  version: number;
  title?: string;
}

function recordingCache(options = { ttlSeconds: 300, maxKeys: 100 }) {
  const events: string[] = [];
  const evictions: EvictionReason[] = [];
  const cache = new LocalCache<Item>({
    ...options,
    events: {
      onHit: (key) => events.push(`hit ${key}`),
      onMiss: (key) => events.push(`miss ${key}`),
      onPut: (key) => events.push(`put ${key}`),
      onEvict: (key, _value, reason) => {
        events.push(`evict ${key} ${reason}`);
        evictions.push(reason);
      },
    },
  });
  return { cache, events, evictions };
}

describe('LocalCache', () => {
  const caches: LocalCache<Item>[] = [];
  const make = (options?: { ttlSeconds: number; maxKeys: number; fenceMs?: number }) => {
    const made = recordingCache(options);
    caches.push(made.cache);
    return made;
  };
  afterEach(() => {
    for (const cache of caches.splice(0)) cache.close();
  });

  it('reports hits, misses and puts', () => {
    const { cache, events } = make();
    expect(cache.get('id:a')).toBeUndefined();
    cache.set('id:a', { id: 'a', version: 1 });
    expect(cache.get('id:a')).toEqual({ id: 'a', version: 1 });
    expect(events).toEqual(['miss id:a', 'put id:a', 'hit id:a']);
    expect(cache.size).toBe(1);
  });

  it('stores values frozen and uncloned, so a reader cannot corrupt the entry', () => {
    const { cache } = make();
    const value = { id: 'a', version: 1, title: 'x' };
    cache.set('id:a', value);
    const read = cache.get('id:a')!;
    expect(read).toBe(value);
    expect(Object.isFrozen(read)).toBe(true);
    expect(() => {
      (read as { title: string }).title = 'y';
    }).toThrow(TypeError);
  });

  it('evicts only an older version of the same record', () => {
    const { cache, evictions } = make();
    cache.set('id:a', { id: 'a', version: 3 });
    cache.set('name:x', { id: 'b', version: 1 });
    expect(cache.evictOlderThan('id:a', 'a', 3, 'invalidation')).toBe(false);
    expect(cache.evictOlderThan('id:a', 'a', 2, 'invalidation')).toBe(false);
    expect(cache.evictOlderThan('name:x', 'a', 9, 'invalidation')).toBe(false);
    expect(cache.evictOlderThan('id:missing', 'a', 9, 'invalidation')).toBe(false);
    expect(cache.evictOlderThan('id:a', 'a', 4, 'invalidation')).toBe(true);
    expect(cache.peek('id:a')).toBeUndefined();
    expect(cache.peek('name:x')).toEqual({ id: 'b', version: 1 });
    expect(evictions).toEqual(['invalidation']);
  });

  it('holds max keys by evicting the oldest write first', () => {
    const { cache, evictions } = make({ ttlSeconds: 300, maxKeys: 3 });
    for (const key of ['a', 'b', 'c']) cache.set(key, { id: key, version: 1 });
    cache.set('a', { id: 'a', version: 2 });
    cache.set('d', { id: 'd', version: 1 });
    expect(cache.size).toBe(3);
    expect(cache.peek('b')).toBeUndefined();
    expect(['a', 'c', 'd'].map((key) => cache.peek(key)?.version)).toEqual([2, 1, 1]);
    expect(evictions).toEqual(['capacity']);
    for (let i = 0; i < 50; i += 1) cache.set(`k${i}`, { id: `k${i}`, version: 1 });
    expect(cache.size).toBe(3);
  });

  it('reports expiry as its own eviction reason', async () => {
    const { cache, evictions } = make({ ttlSeconds: 0.05, maxKeys: 10 });
    cache.set('a', { id: 'a', version: 1 });
    await waitFor(() => cache.get('a') === undefined, { message: 'expiry' });
    expect(evictions).toEqual(['expired']);
    expect(cache.size).toBe(0);
  });

  it('flushes everything with one reason', () => {
    const { cache, evictions } = make();
    for (const key of ['a', 'b']) cache.set(key, { id: key, version: 1 });
    expect(cache.flush()).toBe(2);
    expect(cache.size).toBe(0);
    expect(evictions).toEqual(['flush', 'flush']);
  });

  it('fences fills of a version older than an invalidation it has seen', () => {
    const { cache } = make({ ttlSeconds: 300, maxKeys: 100, fenceMs: 10_000 });
    cache.evictOlderThan('a', 'a', 3, 'invalidation');
    expect(cache.set('a', { id: 'a', version: 2 })).toBe(false);
    expect(cache.set('a', { id: 'a', version: 3 })).toBe(true);
    // Another record under the same key (a name that moved) is not fenced by it.
    expect(cache.set('a', { id: 'b', version: 1 })).toBe(true);
  });

  it('fences a fill read before a flush, and lets one read after it through', () => {
    const { cache } = make({ ttlSeconds: 300, maxKeys: 100, fenceMs: 10_000 });
    const before = cache.fillToken();
    cache.flush();
    expect(cache.set('a', { id: 'a', version: 1 }, before)).toBe(false);
    expect(cache.peek('a')).toBeUndefined();
    expect(cache.set('a', { id: 'a', version: 1 }, cache.fillToken())).toBe(true);
  });

  it('has no fences when they are off (the classic pubsub mode)', () => {
    const { cache } = make();
    const before = cache.fillToken();
    cache.evictOlderThan('a', 'a', 3, 'invalidation');
    cache.flush();
    expect(cache.set('a', { id: 'a', version: 2 }, before)).toBe(true);
  });
});

describe('LocalCache.load: one load per key at a time', () => {
  it('shares a load only with misses that arrive within loadShareMs of its start (a hung load holds nobody after)', async () => {
    const cache = new LocalCache<{ id: string; version: number }>({ ttlSeconds: 60, maxKeys: 10, loadShareMs: 200 });
    let calls = 0;
    const hung = new Promise<{ id: string; version: number }>(() => undefined);
    void cache.load('k', () => {
      calls += 1;
      return hung;
    });
    // Read after the load started: on a busy machine a clock read before it could let the wait
    // below end a millisecond inside the share window, and the third miss would join the hung load.
    const startedAt = Date.now();
    void cache.load('k', async () => {
      calls += 1;
      return { id: '1', version: 1 };
    });
    expect(calls).toBe(1); // the second miss joined the hung load
    await waitFor(() => Date.now() - startedAt > 200, { message: 'the share window has passed' });
    const value = await cache.load('k', async () => {
      calls += 1;
      return { id: '1', version: 1 };
    });
    expect([value?.version, calls, cache.peek('k')?.version]).toEqual([1, 2, 1]);
    cache.close();
  });
});
