import type { EvictionReason, Versioned } from './local-cache';

/** A value kept past its eviction to answer when the source of truth fails, and when it was cached. */
export interface Fallback<V> {
  value: V;
  storedAt: number;
  /** The entry's tags, and the tag version its load started after. */
  tags?: readonly string[];
  seen?: number;
}

export interface FallbacksOptions {
  /** How long a value stays usable as a fallback, counted from when it was cached. */
  graceMs: number;
  /** Keep values an invalidation evicted too (off by default: only expired ones are kept). */
  keepInvalidated: boolean;
  /** Fallbacks at most; the oldest is dropped first. */
  maxKeys: number;
  now?: () => number;
}

/**
 * Fail-safe's store: values the cache evicted that may still be answered, marked stale, when a
 * load fails or times out. Only expiry keeps a value by default: an invalidated value is known
 * to be old, so keeping it is a separate opt-in; a flush (the cache lost trust) and capacity
 * evictions keep nothing. An invalidation of a key removes its fallback unless invalidated values
 * are kept, and a fresh fill replaces it.
 */
export class Fallbacks<V extends Versioned> {
  private readonly entries = new Map<string, Fallback<V>>();
  private readonly now: () => number;

  constructor(private readonly options: FallbacksOptions) {
    this.now = options.now ?? Date.now;
  }

  get size(): number {
    return this.entries.size;
  }

  /** Called for every eviction from the cache: keeps the value if its reason allows. */
  evicted(key: string, fallback: Fallback<V>, reason: EvictionReason): void {
    const keep =
      reason === 'expired' || (this.options.keepInvalidated && (reason === 'invalidation' || reason === 'local_write'));
    this.entries.delete(key);
    if (!keep || fallback.storedAt + this.options.graceMs <= this.now()) return;
    while (this.entries.size >= this.options.maxKeys) this.entries.delete(this.entries.keys().next().value as string);
    this.entries.set(key, fallback);
  }

  /**
   * An invalidation under `key` that found nothing cached: of record `id` at `version` (dropping
   * its older versions, as the cache does), or of whatever the key holds.
   */
  invalidated(key: string, id?: string, version?: number): void {
    if (this.options.keepInvalidated) return;
    const kept = this.entries.get(key);
    if (kept && (id === undefined || (kept.value.id === id && kept.value.version < version!))) this.entries.delete(key);
  }

  /** A tag invalidation: drops kept values carrying one of `tags` loaded before `version` (unless invalidated values are kept). */
  invalidatedTags(tags: ReadonlySet<string>, version: number): void {
    if (this.options.keepInvalidated) return;
    for (const [key, kept] of this.entries)
      if ((kept.seen ?? 0) < version && kept.tags?.some((tag) => tags.has(tag))) this.entries.delete(key);
  }

  /** A clear: drops kept values loaded before `version` (unless invalidated values are kept). */
  clearOlderThan(version: number): void {
    if (this.options.keepInvalidated) return;
    for (const [key, kept] of this.entries) if ((kept.seen ?? 0) < version) this.entries.delete(key);
  }

  /** A fresh value was cached under `key`. */
  replaced(key: string): void {
    this.entries.delete(key);
  }

  /** The fallback of `key` if it is still within its grace. */
  get(key: string): Fallback<V> | undefined {
    const kept = this.entries.get(key);
    if (kept === undefined) return undefined;
    if (kept.storedAt + this.options.graceMs > this.now()) return kept;
    this.entries.delete(key);
    return undefined;
  }

  clear(): void {
    this.entries.clear();
  }
}
