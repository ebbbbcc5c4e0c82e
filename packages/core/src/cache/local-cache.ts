import NodeCache from 'node-cache';
import type { Fallback, Fallbacks } from './fallbacks';

/** A cached value: which record it is and which version of it. */
export interface Versioned {
  readonly id: string;
  readonly version: number;
}

export const EVICTION_REASONS = ['invalidation', 'local_write', 'expired', 'capacity', 'flush'] as const;
export type EvictionReason = (typeof EVICTION_REASONS)[number];

/** Receives what happens inside the cache; the telemetry layer turns it into metrics. */
export interface CacheObserver<V> {
  onHit?(key: string, value: V): void;
  onMiss?(key: string): void;
  onPut?(key: string, value: V): void;
  onEvict?(key: string, value: V, reason: EvictionReason): void;
  /** A fill carried an older version than an invalidation that overtook it, and was refused. */
  onFillRejected?(key: string, value: V): void;
  /**
   * A miss loads from the source of truth: `shared` when it waited for a load of the same key
   * already under way (no read of the source) instead of starting its own.
   */
  onLoad?(key: string, shared: boolean): void;
}

/**
 * A load under way, shared by the misses of its key until an invalidation or a flush of the key
 * detaches it. Its `signal` reaches the loader; an aborted load is never cached.
 */
export interface Load<V> {
  promise: Promise<V | undefined>;
  startedAt: number;
  controller: AbortController;
  /**
   * Set once a caller stopped waiting for it (a soft timeout): its result is then cached only if
   * no invalidation, flush or clear of the key came after it started (it is still attached).
   */
  late: boolean;
  /** Whether its result was cached, once it settled. */
  filled: boolean;
  /** The tags its entry will carry, or how to tell them from the loaded value. */
  tags?: Tags<V>;
  /** The newest tag or clear version this cache had applied when the load started. */
  seen: number;
  /** A tag invalidation or a clear that came after it started: its result is never cached. */
  fenced: boolean;
}

/** An entry's tags, given up front or told from the value once it is loaded. */
export type Tags<V> = readonly string[] | ((value: V) => readonly string[]);

/** The tags of a cached entry, and the newest tag or clear version applied when its load started. */
interface Tagged {
  tags: readonly string[];
  seen: number;
}

export interface LocalCacheOptions<V extends Versioned = Versioned> {
  ttlSeconds: number;
  maxKeys: number;
  /** How often node-cache sweeps expired keys; reads check expiry on their own. */
  checkPeriodSeconds?: number;
  /**
   * Fill fences: remember each invalidation (key, record, version) this long, and refuse a fill
   * of an older version of that record. 0 turns them off (the classic pubsub mode).
   */
  fenceMs?: number;
  /** Concurrent misses of one key share one load (default true); false: every miss loads. */
  coalesceLoads?: boolean;
  /** Where the cache's events go: one observer (a synced cache's event channel). */
  events?: CacheObserver<V>;
  /** Fail-safe: where evicted values that may still answer a failed load are kept. */
  fallbacks?: Fallbacks<V>;
  /**
   * A load is shared only with misses that arrive within this long of its start (default 5 s);
   * a later miss starts its own, so one hung load cannot hold every reader of its key.
   */
  loadShareMs?: number;
}

interface Tombstone {
  id: string;
  version: number;
  until: number;
}

/**
 * A local cache of versioned, immutable values over node-cache.
 *
 * Values are frozen and stored without cloning: measured on a book-sized value, node-cache's
 * clone on every get costs ~700 ns against ~35 ns without (bench/read-path/clone-cost.ts), and freezing
 * makes the one thing clones protect against, a caller mutating the entry, throw instead.
 * node-cache refuses new keys once maxKeys is reached, so capacity is enforced here by
 * evicting the oldest-written key first.
 */
export class LocalCache<V extends Versioned> {
  private readonly store: NodeCache;
  /** Every key, oldest-written first, with when its value was cached. */
  private readonly writeOrder = new Map<string, number>();
  private readonly tombstones = new Map<string, Tombstone>();
  private readonly fenceMs: number;
  private nextTombstoneSweep = 0;
  /** Bumped by every flush: a fill read before a flush may hold what the flush meant to drop. */
  private generation = 0;
  private readonly maxKeys: number;
  private readonly events: CacheObserver<V>;
  private readonly loads = new Map<string, Load<V>>();
  private readonly loadShareMs: number;
  private readonly coalesceLoads: boolean;
  private readonly fallbacks?: Fallbacks<V>;
  private readonly tagged = new Map<string, Tagged>();
  /** Keys cached with each tag. */
  private readonly keysByTag = new Map<string, string | Set<string>>();
  /**
   * The newest tag or clear version applied here (versions come from Redis, in the order of
   * their changes' commits): an entry whose load started after version n was applied read every
   * change announced with n or lower.
   */
  private tagVersion = 0;
  /** The newest clear applied here: an older or replayed one finds nothing it must evict. */
  private clearVersion = 0;

  constructor(options: LocalCacheOptions<V>) {
    this.events = options.events ?? {};
    this.maxKeys = options.maxKeys;
    this.fenceMs = options.fenceMs ?? 0;
    this.loadShareMs = options.loadShareMs ?? 5000;
    this.coalesceLoads = options.coalesceLoads ?? true;
    this.fallbacks = options.fallbacks;
    this.store = new NodeCache({
      stdTTL: options.ttlSeconds,
      checkperiod: options.checkPeriodSeconds ?? Math.min(options.ttlSeconds, 10),
      useClones: false,
      deleteOnExpire: true,
    });
    this.store.on('expired', (key: string, value: V) => {
      const storedAt = this.writeOrder.get(key);
      this.writeOrder.delete(key);
      const tagged = this.untag(key);
      if (storedAt !== undefined) this.fallbacks?.evicted(key, { value, storedAt, ...tagged }, 'expired');
      this.events.onEvict?.(key, value, 'expired');
    });
  }

  get size(): number {
    return this.writeOrder.size;
  }

  get(key: string): V | undefined {
    const value = this.store.get<V>(key);
    if (value === undefined) this.events.onMiss?.(key);
    else this.events.onHit?.(key, value);
    return value;
  }

  /** Reads without counting a hit or miss (for checks that are not user reads). */
  peek(key: string): V | undefined {
    return this.store.get<V>(key);
  }

  /** When the value cached under `key` was cached (epoch ms), if one is. */
  storedAt(key: string): number | undefined {
    return this.writeOrder.get(key);
  }

  /** Whether a load of `key` is under way (registered even when misses do not share loads). */
  loading(key: string): boolean {
    return this.loads.has(key);
  }

  /** A token to take before reading the value a later `set` will cache (see `set`). */
  fillToken(): number {
    return this.generation;
  }

  /**
   * Caches `value` under `key`; false if a fill fence refused it: an invalidation of a newer
   * version, or (given the token taken before the value was read) a flush, overtook the read.
   * `tags` replace the entry's tags (none: untagged); `seen` is the tag version its read started
   * after (default: the current one).
   */
  set(key: string, value: V, token?: number, tags?: readonly string[], seen = this.tagVersion): boolean {
    const flushedSince = this.fenceMs > 0 && token !== undefined && token !== this.generation;
    if (flushedSince || (this.fenceMs > 0 && this.fenced(key, value))) {
      this.events.onFillRejected?.(key, value);
      return false;
    }
    if (!this.writeOrder.has(key)) this.makeRoom();
    else this.writeOrder.delete(key);
    this.store.set(key, Object.freeze(value));
    this.writeOrder.set(key, Date.now());
    if (this.tagged.size > 0) this.untag(key);
    if (tags !== undefined && tags.length > 0) this.tag(key, tags, seen);
    this.fallbacks?.replaced(key);
    this.events.onPut?.(key, value);
    return true;
  }

  /** The value kept for `key` after its eviction, within its grace (fail-safe), or undefined. */
  fallback(key: string): Fallback<V> | undefined {
    return this.fallbacks?.get(key);
  }

  /**
   * Loads `key` from the source of truth and caches what it returns (unless `canFill` says no
   * once it has, or a fill fence refuses it). Concurrent misses of one key share one call of
   * `loader`. An invalidation or a flush of the key detaches the load under way: it still answers
   * the misses that joined it (they were concurrent with the write), later misses start a load of
   * their own, and the fill fences decide whether it is cached (with fences off, as in the
   * classic mode, the read-populate race stays visible; a late load is never cached once
   * detached). A failed or aborted load rejects its waiters and leaves nothing behind.
   */
  load(
    key: string,
    loader: (signal: AbortSignal) => Promise<V | null | undefined>,
    canFill: () => boolean = () => true,
  ) {
    return this.startLoad(key, loader, canFill).load.promise;
  }

  /** {@link load}, answering the load itself and whether it joined one under way. */
  startLoad(
    key: string,
    loader: (signal: AbortSignal) => Promise<V | null | undefined>,
    canFill: () => boolean = () => true,
    tags?: Tags<V>,
  ): { load: Load<V>; shared: boolean } {
    const running = this.loads.get(key);
    if (this.coalesceLoads && running && Date.now() - running.startedAt <= this.loadShareMs) {
      this.events.onLoad?.(key, true);
      return { load: running, shared: true };
    }
    const token = this.generation;
    const controller = new AbortController();
    const load: Load<V> = {
      promise: Promise.resolve(undefined),
      startedAt: Date.now(),
      controller,
      late: false,
      filled: false,
      tags,
      seen: this.tagVersion,
      fenced: false,
    };
    this.events.onLoad?.(key, false);
    // Registered even when loads are not shared: an invalidation detaches it, which fences a late result.
    this.loads.set(key, load);
    load.promise = (async () => {
      try {
        const value = (await loader(controller.signal)) ?? undefined;
        controller.signal.throwIfAborted();
        if (value !== undefined && load.fenced) this.events.onFillRejected?.(key, value);
        const fenced = load.fenced || (load.late && this.loads.get(key) !== load);
        if (value !== undefined && !fenced && canFill()) {
          const tags = typeof load.tags === 'function' ? load.tags(value) : load.tags;
          load.filled = this.set(key, value, token, tags, load.seen);
        }
        return value;
      } finally {
        if (this.loads.get(key) === load) this.loads.delete(key);
      }
    })();
    return { load, shared: false };
  }

  /**
   * Evicts the entry only if it holds record `id` at a version older than `version`; returns
   * whether it did. A key such as a name can move to another record, whose versions are unrelated.
   */
  evictOlderThan(key: string, id: string, version: number, reason: EvictionReason): boolean {
    this.overtakeLoad(key);
    if (this.fenceMs > 0) this.fence(key, id, version);
    const current = this.store.get<V>(key);
    if (current === undefined) this.fallbacks?.invalidated(key, id, version);
    if (current === undefined || current.id !== id || current.version >= version) return false;
    this.remove(key, current, reason);
    return true;
  }

  evict(key: string, reason: EvictionReason): boolean {
    this.overtakeLoad(key);
    const current = this.store.get<V>(key);
    if (current === undefined && (reason === 'invalidation' || reason === 'local_write'))
      this.fallbacks?.invalidated(key);
    if (current === undefined) return false;
    this.remove(key, current, reason);
    return true;
  }

  flush(reason: EvictionReason = 'flush'): number {
    this.generation += 1;
    this.loads.clear();
    // The cache lost trust: what it kept may have been invalidated meanwhile.
    this.fallbacks?.clear();
    const keys = [...this.writeOrder.keys()];
    for (const key of keys) this.evict(key, reason);
    return keys.length;
  }

  /**
   * Evicts every entry carrying one of `tags` whose load started before tag version `version`
   * was applied, and fences the loads of those tags under way (their results are not cached).
   * `Infinity`: every such entry and load (this replica's own invalidation, before Redis gave it
   * a version). Returns how many entries it evicted.
   */
  invalidateTags(tags: readonly string[], version: number, reason: EvictionReason): number {
    const named = new Set(tags);
    // A load whose tags are told from its value might carry any of them: fenced too.
    for (const [key, load] of this.loads)
      if (load.seen < version && (typeof load.tags === 'function' || load.tags?.some((tag) => named.has(tag))))
        this.fenceLoad(key, load);
    let evicted = 0;
    for (const tag of named) {
      const keys = this.keysByTag.get(tag);
      if (keys === undefined) continue;
      // Detached first, so evicting its keys does not delete each from it; the keys kept go back.
      this.keysByTag.delete(tag);
      const kept: string[] = [];
      for (const key of typeof keys === 'string' ? [keys] : keys) {
        const entry = this.tagged.get(key);
        if (entry === undefined) continue;
        if (entry.seen >= version) {
          kept.push(key);
          continue;
        }
        // Read past node-cache's expiry check (a clock read per key): an expired value goes all the same.
        const value = this.store.data[key]?.v as V | undefined;
        if (value === undefined) this.untag(key);
        else {
          this.remove(key, value, reason);
          evicted += 1;
        }
      }
      for (const key of kept) this.addTag(tag, key);
    }
    this.fallbacks?.invalidatedTags(named, version);
    this.noteVersion(version);
    return evicted;
  }

  /**
   * Evicts every entry whose load started before clear version `version` was applied, and fences
   * the loads under way that started before it. `Infinity`: everything (this replica's own clear).
   * Returns how many entries it evicted.
   */
  clear(version: number, reason: EvictionReason): number {
    for (const [key, load] of this.loads) if (load.seen < version) this.fenceLoad(key, load);
    // Untagged entries do not say when their load started: all go, unless a newer clear already did.
    const all = version > this.clearVersion;
    let evicted = 0;
    for (const key of [...this.writeOrder.keys()]) {
      const entry = this.tagged.get(key);
      if (entry ? entry.seen >= version : !all) continue;
      const value = this.store.get<V>(key);
      if (value === undefined) continue;
      this.remove(key, value, reason);
      evicted += 1;
    }
    if (all) this.fallbacks?.clearOlderThan(version);
    if (Number.isFinite(version)) this.clearVersion = Math.max(this.clearVersion, version);
    this.noteVersion(version);
    return evicted;
  }

  /** A tag or clear version Redis gave out is now known here: loads started from now on read after it. */
  noteVersion(version: number): void {
    if (Number.isFinite(version)) this.tagVersion = Math.max(this.tagVersion, version);
  }

  /** The tags cached under `key` (for tests and checks), or undefined if it has none. */
  tagsOf(key: string): readonly string[] | undefined {
    return this.tagged.get(key)?.tags;
  }

  get fences(): number {
    return this.tombstones.size;
  }

  close(): void {
    this.tombstones.clear();
    this.fallbacks?.clear();
    this.tagged.clear();
    this.keysByTag.clear();
    this.store.flushAll();
    this.writeOrder.clear();
    this.store.close();
  }

  /** The load of `key` under way may have read what an invalidation just replaced: misses from now on load again. */
  private overtakeLoad(key: string): void {
    this.loads.delete(key);
  }

  /** A tag invalidation or a clear came after the load started: it answers its waiters, and is never cached. */
  private fenceLoad(key: string, load: Load<V>): void {
    load.fenced = true;
    this.loads.delete(key);
  }

  private tag(key: string, tags: readonly string[], seen: number): void {
    this.tagged.set(key, { tags, seen });
    for (const tag of tags) this.addTag(tag, key);
  }

  /** A tag of one entry (a record's own tag) is kept as that key alone: no Set for each. */
  private addTag(tag: string, key: string): void {
    const keys = this.keysByTag.get(tag);
    if (keys === undefined) this.keysByTag.set(tag, key);
    else if (typeof keys !== 'string') keys.add(key);
    else if (keys !== key) this.keysByTag.set(tag, new Set([keys, key]));
  }

  /** Forgets the tags of `key`, and returns them (for its fallback). */
  private untag(key: string): Tagged | undefined {
    const entry = this.tagged.get(key);
    if (entry === undefined) return undefined;
    this.tagged.delete(key);
    for (const tag of entry.tags) {
      const keys = this.keysByTag.get(tag);
      if (keys === key) this.keysByTag.delete(tag);
      else if (typeof keys === 'object') {
        keys.delete(key);
        if (keys.size === 0) this.keysByTag.delete(tag);
      }
    }
    return entry;
  }

  /** Remembers that `id` reached `version` under `key`, so older fills of it are refused for a while. */
  private fence(key: string, id: string, version: number): void {
    const now = Date.now();
    const existing = this.tombstones.get(key);
    if (!existing || existing.id !== id || existing.version < version || existing.until < now) {
      this.tombstones.set(key, { id, version, until: now + this.fenceMs });
    }
    if (now >= this.nextTombstoneSweep) {
      this.nextTombstoneSweep = now + this.fenceMs;
      for (const [k, t] of this.tombstones) if (t.until < now) this.tombstones.delete(k);
    }
  }

  private fenced(key: string, value: V): boolean {
    const tombstone = this.tombstones.get(key);
    return (
      tombstone !== undefined &&
      tombstone.until >= Date.now() &&
      tombstone.id === value.id &&
      value.version < tombstone.version
    );
  }

  private makeRoom(): void {
    while (this.writeOrder.size >= this.maxKeys) {
      const oldest = this.writeOrder.keys().next().value as string;
      const value = this.store.get<V>(oldest);
      if (value === undefined) this.writeOrder.delete(oldest);
      else this.remove(oldest, value, 'capacity');
    }
  }

  private remove(key: string, value: V, reason: EvictionReason): void {
    const storedAt = this.writeOrder.get(key);
    this.writeOrder.delete(key);
    const tagged = this.tagged.size > 0 ? this.untag(key) : undefined;
    if (storedAt !== undefined) this.fallbacks?.evicted(key, { value, storedAt, ...tagged }, reason);
    this.store.del(key);
    this.events.onEvict?.(key, value, reason);
  }
}
