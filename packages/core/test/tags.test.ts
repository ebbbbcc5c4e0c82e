import { createSyncedCache, type SyncedCache, type SyncedCacheObserver } from '@local-cache-sync/core';
import { MemoryBus, type MemoryTransport, stopHeartbeats } from '@local-cache-sync/core/testing';
import type { AppliedTagInvalidation, RejectReason } from '@local-cache-sync/core/wire';
import { gatedLoader, type Item, itemCaches, until } from './fixtures';

const item = (id: string, version = 1): Item => ({ id, version, title: `${id} v${version}` });
const load = (cache: SyncedCache<Item>, id: string, tags?: string[]) =>
  cache.getOrLoad(`item:${id}`, async () => item(id), tags ? { tags } : undefined);

/** What a replica heard: tag invalidations, rejections, misses, recoveries. */
function listener() {
  const heard = {
    tags: [] as AppliedTagInvalidation[],
    rejected: [] as RejectReason[],
    missed: 0,
    flushed: 0,
    replayed: 0,
    messages: 0,
  };
  const observer: SyncedCacheObserver<Item> = {
    onTagInvalidation: (applied) => heard.tags.push(applied),
    onRejected: (reason) => heard.rejected.push(reason),
    onMissed: (count) => (heard.missed += count),
    onMessage: () => (heard.messages += 1),
    onRecovery: (recovery) => {
      if (recovery.action === 'flushed') heard.flushed += 1;
      if (recovery.action === 'replayed') heard.replayed += recovery.replayed;
    },
  };
  return { heard, observer };
}

describe('tags and clear across replicas (in-memory bus)', () => {
  const { make, track, closeAll } = itemCaches({ cache: { ttlSeconds: 60 } });
  afterEach(closeAll);

  /** Replica b on its own transport, so the test can cut it off the bus. */
  const cutOffReplica = async (bus: MemoryBus, mode: 'pubsub' | 'stream', observer: SyncedCacheObserver<Item>) => {
    const transport: MemoryTransport = bus.transport();
    const cache = await createSyncedCache<Item>({
      name: 'item',
      replicaId: 'b',
      bus: { transport, heartbeatIntervalMs: 50 },
      sync: mode === 'stream' ? { mode, silenceMs: 60_000, jitterMs: 0 } : { mode },
      cache: { ttlSeconds: 60 },
      observers: [observer],
    });
    track(cache);
    return { cache, transport };
  };

  it('evicts the entries of a tag here and on every replica, in versions Redis hands out; untagged stay', async () => {
    const bus = new MemoryBus();
    const { heard, observer } = listener();
    const a = await make(bus, 'a');
    const b = await make(bus, 'b', { observers: [observer] });
    for (const cache of [a, b]) {
      await load(cache, '1', ['author:le-guin']);
      await load(cache, '2', ['author:le-guin', 'year:1969']);
      await load(cache, '3', ['author:herbert']);
      await load(cache, '4');
    }
    await a.invalidateTags(['author:le-guin']);
    expect([a.peek('item:1'), a.peek('item:2')]).toEqual([undefined, undefined]);
    await until(() => b.peek('item:1') === undefined && b.peek('item:2') === undefined, 'b evicted the tag');
    expect([b.peek('item:3'), b.peek('item:4')]).toEqual([item('3'), item('4')]);
    await a.invalidateTags(['year:1969', 'author:herbert']);
    await until(() => b.peek('item:3') === undefined, 'b evicted the second');
    expect(
      heard.tags.map(({ kind, tags, version, evictedKeys, local }) => ({ kind, tags, version, evictedKeys, local })),
    ).toEqual([
      { kind: 'tags', tags: ['author:le-guin'], version: 1, evictedKeys: 2, local: false },
      { kind: 'tags', tags: ['year:1969', 'author:herbert'], version: 2, evictedKeys: 1, local: false },
    ]);
    expect(bus.version).toBe(2);
  });

  it('clear() empties every replica', async () => {
    const bus = new MemoryBus();
    const a = await make(bus, 'a');
    const b = await make(bus, 'b');
    for (const id of ['1', '2', '3']) await load(b, id, id === '1' ? ['t'] : undefined);
    await load(a, '1');
    await a.clear();
    expect(a.size).toBe(0);
    await until(() => b.size === 0, 'b was cleared');
  });

  it('re-tagging an entry replaces its tags (BentoCache#83)', async () => {
    const bus = new MemoryBus();
    const a = await make(bus, 'a');
    const b = await make(bus, 'b');
    await load(b, '1', ['old']);
    // The entry is reloaded with other tags (its record changed): the new tags hold, the old ones no longer do.
    await a.announce({ keys: ['item:1'], id: '1', version: 2, op: 'update' });
    await until(() => b.peek('item:1') === undefined, 'b evicted v1');
    await b.getOrLoad('item:1', async () => item('1', 2), { tags: ['new'] });
    await a.invalidateTags(['old']);
    await a.invalidateTags(['unrelated']);
    await until(() => bus.version === 2 && b.size === 1, 'both tag messages reached b');
    await new Promise((resolve) => setImmediate(resolve));
    expect(b.peek('item:1')).toEqual(item('1', 2));
    await a.invalidateTags(['new']);
    await until(() => b.peek('item:1') === undefined, 'the new tag evicted it');
  });

  it.each(['tag invalidation', 'clear'] as const)(
    'a load under way when a %s arrives answers its waiters but is not cached (FusionCache#625)',
    async (kind) => {
      const bus = new MemoryBus();
      const { observer } = listener();
      let rejectedFills = 0;
      const a = await make(bus, 'a');
      const b = await make(bus, 'b', { observers: [observer, { onFillRejected: () => (rejectedFills += 1) }] });
      const gated = gatedLoader(() => item('1'));
      const answer = b.getOrLoad('item:1', gated.loader, { tags: ['t'] });
      await until(() => gated.calls() === 1, 'the load started');
      if (kind === 'clear') await a.clear();
      else await a.invalidateTags(['t']);
      await until(() => bus.version === 1, 'the message went out');
      await new Promise((resolve) => setImmediate(resolve));
      gated.releaseAll();
      expect(await answer).toEqual({ value: item('1'), hit: false });
      expect([b.peek('item:1'), rejectedFills]).toEqual([undefined, 1]);
      // A load that starts after it is cached.
      await load(b, '1', ['t']);
      expect(b.peek('item:1')).toEqual(item('1'));
    },
  );

  it('a replica that missed a tag invalidation counts it; pubsub leaves the tagged entry stale, stream replays it', async () => {
    for (const mode of ['pubsub', 'stream'] as const) {
      const bus = new MemoryBus();
      const { heard, observer } = listener();
      const a = await make(bus, 'a', { sync: mode === 'stream' ? { mode, silenceMs: 60_000 } : { mode } });
      const { cache: b, transport } = await cutOffReplica(bus, mode, observer);
      await until(() => b.trusted(), 'b trusts its cache');
      await load(b, '1', ['t']);
      await until(() => heard.messages > 0, 'b heard from a');
      // Quiet senders, so the only message b can miss is the tag invalidation.
      stopHeartbeats(a);
      stopHeartbeats(b);
      await new Promise((resolve) => setTimeout(resolve, 60));
      transport.setConnected(false);
      await a.invalidateTags(['t']);
      transport.setConnected(true);
      await a.announce({ keys: ['item:9'], id: '9', version: 2, op: 'update' });
      await until(
        () => heard.missed === 1,
        `${mode}: b counted the missed tag invalidation (${JSON.stringify(heard)})`,
      );
      if (mode === 'pubsub') {
        await new Promise((resolve) => setTimeout(resolve, 20));
        expect(b.peek('item:1')).toEqual(item('1'));
      } else {
        await until(() => heard.replayed >= 1 && b.trusted(), 'stream: b replayed it');
        expect(b.peek('item:1')).toBeUndefined();
        expect(heard.tags.map((t) => t.tags)).toEqual([['t']]);
      }
      await closeAll();
    }
  });

  it('an old tag or clear message, replayed or rebroadcast, never evicts entries loaded after it (FusionCache#627)', async () => {
    const bus = new MemoryBus();
    const { heard, observer } = listener();
    const a = await make(bus, 'a', { sync: { mode: 'stream', silenceMs: 60_000 } });
    const b = await make(bus, 'b', { sync: { mode: 'stream', silenceMs: 60_000 }, observers: [observer] });
    await until(() => b.trusted(), 'b trusts its cache');
    await a.invalidateTags(['t']);
    await a.clear();
    await until(() => heard.tags.length === 2, 'b applied both');
    await load(b, '1', ['t']);
    await load(b, '2');
    // The log holds both messages as they were sent, signed and numbered: an attacker or a
    // confused replica sends them again, much later.
    const sender = bus.transport();
    for (const { payload } of bus.entries) await sender.publish(payload);
    await until(() => heard.tags.length === 4, 'b applied the copies');
    expect(heard.rejected).toEqual(['duplicate', 'duplicate']);
    expect(heard.tags.slice(2).map((t) => t.evictedKeys)).toEqual([0, 0]);
    expect([b.peek('item:1'), b.peek('item:2')]).toEqual([item('1'), item('2')]);
  });

  it('refuses bad tags with a clear error: unknown, too many, empty; and an abort from the caller', async () => {
    const bus = new MemoryBus();
    const a = await make(bus, 'a', { sync: { mode: 'pubsub', isTag: (tag) => tag.startsWith('author:') } });
    await expect(load(a, '1', ['genre:sf'])).rejects.toThrow(
      'getOrLoad: unknown tag "genre:sf" (not a tag of this cache: sync.isTag)',
    );
    await expect(a.invalidateTags(['genre:sf'])).rejects.toThrow('invalidateTags: unknown tag "genre:sf"');
    const many = Array.from({ length: 65 }, (_, i) => `author:${i}`);
    await expect(load(a, '1', many)).rejects.toThrow('getOrLoad: tags must be an array of 1 to 64 tags');
    await expect(a.invalidateTags([...many, ...many, ...many, ...many])).rejects.toThrow(
      'invalidateTags: tags must be an array of 1 to 256 tags',
    );
    await expect(a.invalidateTags([])).rejects.toThrow('invalidateTags: tags must be an array of 1 to 256 tags');
    await expect(load(a, '1', [''])).rejects.toThrow('a tag must be a string of 1 to 256 characters');
    const aborted = new AbortController();
    const gated = gatedLoader(() => item('1'));
    const answer = a.getOrLoad('item:1', gated.loader, { signal: aborted.signal, tags: ['author:x'] });
    aborted.abort(new Error('the client went away'));
    await expect(answer).rejects.toThrow('the client went away');
    expect(bus.version).toBe(0);
  });

  it('checks the tags of a refresh ahead of expiry as those of a miss', async () => {
    const a = await make(new MemoryBus(), 'a', { loads: { eagerRefresh: 0.001 } });
    await load(a, '1', ['t']);
    const loadedAt = Date.now();
    // Past 0.1 % of the 60 s TTL (60 ms), the next hit starts a refresh: with a bad tag, it is refused.
    await until(() => Date.now() - loadedAt >= 70, 'the entry is due for a refresh');
    await expect(load(a, '1', [''])).rejects.toThrow('getOrLoad: a tag must be a string of 1 to 256 characters');
    expect(a.peek('item:1')).toEqual(item('1'));
  });

  it('rejects and counts a message naming 10,000 tags or an unknown tag, applies nothing, and counts the gap', async () => {
    const bus = new MemoryBus();
    const { heard, observer } = listener();
    const b = await make(bus, 'b', {
      sync: { mode: 'pubsub', isTag: (tag) => tag !== 'forbidden' },
      observers: [observer],
    });
    await load(b, '1', ['t']);
    const header = { v: 1, cache: 'item', origin: 'x', epoch: 'e1', publishedAt: Date.now(), committedAt: Date.now() };
    const sender = bus.transport();
    const tags = Array.from({ length: 10_000 }, (_, i) => `${i % 10}`);
    const heartbeat = (seq: number) =>
      JSON.stringify({ ...header, seq, type: 'heartbeat', cache: undefined, committedAt: undefined });
    await sender.publish(heartbeat(1));
    await sender.publish(JSON.stringify({ ...header, seq: 2, type: 'tags', tags, version: 5 }));
    await sender.publish(JSON.stringify({ ...header, seq: 3, type: 'tags', tags: ['forbidden', 't'], version: 6 }));
    await sender.publish(heartbeat(4));
    await until(() => heard.rejected.length === 2 && heard.missed > 0, 'both rejected, the gap counted');
    expect([heard.rejected, heard.missed]).toEqual([['invalid_envelope', 'unknown_tag'], 2]);
    expect(b.peek('item:1')).toEqual(item('1'));
    expect(heard.tags).toEqual([]);
  });

  it('counts a message of a kind it does not know as missed, and recovers from it like any gap', async () => {
    const bus = new MemoryBus();
    const { heard, observer } = listener();
    const b = await make(bus, 'b', {
      sync: { mode: 'pubsub-flush', silenceMs: 60_000, jitterMs: 0 },
      observers: [observer],
    });
    await until(() => b.trusted(), 'b trusts its cache');
    await load(b, '1', ['t']);
    const header = { v: 1, origin: 'newer', epoch: 'e1', publishedAt: Date.now() };
    const sender = bus.transport();
    await sender.publish(JSON.stringify({ ...header, seq: 1, type: 'heartbeat' }));
    await sender.publish(JSON.stringify({ ...header, seq: 2, type: 'evict-prefix', cache: 'item', prefix: 'item:' }));
    await until(() => heard.flushed === 1 && b.trusted(), 'b flushed and trusts its cache again');
    expect([heard.rejected, heard.missed, b.peek('item:1')]).toEqual([['unknown_type'], 1, undefined]);
    // Its number was taken: the next message from that sender is no gap.
    await sender.publish(JSON.stringify({ ...header, seq: 3, type: 'heartbeat' }));
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(heard.missed).toBe(1);
  });
});
