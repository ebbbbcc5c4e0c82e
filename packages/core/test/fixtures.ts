import { randomBytes } from 'node:crypto';
import { createSyncedCache, type SyncedCache, type SyncedCacheOptions } from '@local-cache-sync/core';
import type { MemoryBus } from '@local-cache-sync/core/testing';
import type { CacheScope, InvalidationMessage } from '../src/sync/envelope';

/** A valid invalidation of one record under two keys (by id and by name), as a publisher would send it. */
export const sampleMessage = (overrides: Partial<InvalidationMessage> = {}): InvalidationMessage => ({
  v: 1,
  cache: 'book',
  keys: ['id:6566f0c1a1b2c3d4e5f60718', 'name:Dune'],
  id: '6566f0c1a1b2c3d4e5f60718',
  version: 4,
  op: 'update',
  origin: 'book-1',
  epoch: 'a1b2c3',
  seq: 17,
  committedAt: 1764000000000.25,
  publishedAt: 1764000000001.5,
  traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
  ...overrides,
});

/** A key scheme like the Book service's: one key by id, any number by name. */
export const SCOPE: CacheScope = {
  name: 'book',
  isKeyOf: (key, id) => key === `id:${id}` || key.startsWith('name:'),
};

/** A name no other test uses: a channel, a database, a replica. */
export const uniqueName = (prefix: string) => `${prefix}-${randomBytes(4).toString('hex')}`;

/** Polls `condition` every 5 ms until it holds; fails with `message` after `timeoutMs`. */
export async function until(condition: () => boolean, message: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out: ${message}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** A loader the test releases by hand, counting its calls and keeping the signal each got. */
export function gatedLoader<T>(value: () => T | undefined) {
  const gates: (() => void)[] = [];
  const signals: AbortSignal[] = [];
  const loader = async (signal?: AbortSignal) => {
    signals.push(signal ?? new AbortController().signal);
    await new Promise<void>((resolve) => gates.push(resolve));
    return value();
  };
  return {
    loader,
    calls: () => signals.length,
    signals,
    releaseAll: () => {
      for (const open of gates.splice(0)) open();
    },
  };
}

/** A cached value as the tests use it. */
export interface Item {
  id: string;
  version: number;
  title: string;
}

/** Makes caches of `Item` on an in-memory bus (`pubsub` mode unless told), and closes them all. */
export function itemCaches(defaults: Partial<SyncedCacheOptions<Item>> = {}) {
  const open: SyncedCache<Item>[] = [];
  return {
    async make(bus: MemoryBus, replicaId: string, extra: Partial<SyncedCacheOptions<Item>> = {}) {
      const cache = await createSyncedCache<Item>({
        name: 'item',
        replicaId,
        bus: { transport: bus.transport(), heartbeatIntervalMs: 50 },
        sync: { mode: 'pubsub' },
        ...defaults,
        ...extra,
      });
      open.push(cache);
      return cache;
    },
    /** Closes these with the others (caches made another way). */
    track: (...caches: SyncedCache<Item>[]) => {
      open.push(...caches);
    },
    closeAll: async () => {
      await Promise.all(open.splice(0).map((cache) => cache.close()));
    },
  };
}
