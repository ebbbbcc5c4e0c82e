import type { Fallback } from './fallbacks';
import type { Load, LocalCache, Tags, Versioned } from './local-cache';

/** Why a stale value was answered on purpose (fail-safe). */
export type StaleReason = 'load_failed' | 'soft_timeout' | 'hard_timeout' | 'throttled';
export const STALE_REASONS: readonly StaleReason[] = ['load_failed', 'soft_timeout', 'hard_timeout', 'throttled'];

/** Marks an answer that fail-safe served from a value kept past its eviction. */
export interface Stale {
  reason: StaleReason;
  /** How long ago the value was cached (loaded from the source of truth), in ms. */
  ageMs: number;
}

/** A load that passed its hard timeout with no fallback to answer instead. */
export class LoadTimeoutError extends Error {
  constructor(
    readonly key: string,
    readonly timeoutMs: number,
  ) {
    super(`loading ${JSON.stringify(key)} took over ${timeoutMs} ms (the hard timeout)`);
    this.name = 'LoadTimeoutError';
  }
}

export interface GuardObserver {
  /** A stale value answered on purpose, and why (the answer says so too). */
  onServedStale?(key: string, reason: StaleReason, ageMs: number): void;
  /**
   * A load no caller waits for: left running after a soft timeout, or a refresh ahead of expiry.
   * `started`, then `cached`, `discarded` (an invalidation, flush or clear came after it started,
   * or a fence refused it) or `failed`.
   */
  onBackgroundLoad?(
    key: string,
    outcome: 'started' | 'cached' | 'discarded' | 'failed',
    cause: 'soft_timeout' | 'refresh',
  ): void;
}

export interface GuardOptions {
  /** With a fallback: answer it after this long and let the load finish in the background. */
  softTimeoutMs?: number;
  /** Abort the load (its signal) after this long; answer the fallback, or reject with LoadTimeoutError. */
  hardTimeoutMs?: number;
  /** After a failed load answered from a fallback, answer the fallback without loading for this long. */
  throttleMs: number;
  /** Loads left running in the background at most; past it the soft timeout waits like a hard one, and no refresh starts. */
  maxBackground: number;
  /** Refresh a hit entry in the background once it is this old (ms); undefined: never. */
  refreshAfterMs?: number;
  events: GuardObserver;
}

type Outcome<V> =
  | { kind: 'value'; value: V | undefined }
  | { kind: 'failed'; error: unknown }
  | { kind: 'hard' }
  | { kind: 'soft' }
  | { kind: 'aborted' };

/** Keys throttled at most: the oldest throttle is dropped first. */
const MAX_THROTTLED = 10_000;

/**
 * A miss's load with fail-safe and timeouts. Every load gets an AbortSignal, aborted at the hard
 * timeout. A failed or timed-out load answers the key's fallback, marked stale with its age, and
 * throttles the key (no reload until the throttle ends, so a dead database is not hammered). A
 * soft timeout answers the fallback and lets the load finish; its result is cached only if it is
 * still attached (no invalidation, flush or clear of the key since it started).
 */
export class GuardedLoads<V extends Versioned> {
  private readonly throttled = new Map<string, number>();
  private background = 0;

  constructor(
    private readonly cache: LocalCache<V>,
    private readonly options: GuardOptions,
  ) {}

  /** Loads `key`; `withFallback` false when no fallback may be answered (the cache is not trusted). */
  async read(
    key: string,
    loader: (signal: AbortSignal) => Promise<V | null | undefined>,
    canFill: () => boolean,
    withFallback: boolean,
    signal?: AbortSignal,
    tags?: Tags<V>,
  ): Promise<{ value: V | undefined; stale?: Stale }> {
    signal?.throwIfAborted();
    const fallback = withFallback ? this.cache.fallback(key) : undefined;
    if (fallback && this.isThrottled(key)) return this.serveStale(key, fallback, 'throttled');
    const { load, shared } = this.cache.startLoad(key, loader, canFill, tags);
    const { hardTimeoutMs, softTimeoutMs, maxBackground } = this.options;
    if (!shared && hardTimeoutMs !== undefined) this.abortAfter(key, load, hardTimeoutMs);
    const timers: NodeJS.Timeout[] = [];
    const undo: (() => void)[] = [];
    const outcome = await new Promise<Outcome<V>>((resolve) => {
      load.promise.then(
        (value) => resolve({ kind: 'value', value }),
        (error: unknown) => resolve({ kind: 'failed', error }),
      );
      const onHard = () => resolve({ kind: 'hard' });
      if (load.controller.signal.aborted) onHard();
      load.controller.signal.addEventListener('abort', onHard, { once: true });
      undo.push(() => load.controller.signal.removeEventListener('abort', onHard));
      if (fallback && softTimeoutMs !== undefined && this.background < maxBackground)
        timers.push(setTimeout(() => resolve({ kind: 'soft' }), softTimeoutMs));
      if (signal) {
        const onAbort = () => resolve({ kind: 'aborted' });
        signal.addEventListener('abort', onAbort, { once: true });
        undo.push(() => signal.removeEventListener('abort', onAbort));
      }
    });
    for (const timer of timers) clearTimeout(timer);
    for (const fn of undo) fn();
    switch (outcome.kind) {
      case 'value':
        return { value: outcome.value };
      case 'aborted':
        throw signal!.reason;
      case 'soft':
        this.runInBackground(key, load, 'soft_timeout');
        return this.serveStale(key, fallback!, 'soft_timeout');
      case 'hard':
        if (!fallback) throw new LoadTimeoutError(key, hardTimeoutMs!);
        this.throttle(key);
        return this.serveStale(key, fallback, 'hard_timeout');
      case 'failed':
        if (!fallback) throw outcome.error;
        this.throttle(key);
        return this.serveStale(key, fallback, 'load_failed');
    }
  }

  /**
   * Called on a hit: once the entry is `refreshAfterMs` old, starts one reload in the background
   * (none if a load of the key is under way: misses and refreshes share it). Its result replaces
   * the entry only if no invalidation, flush or clear of the key came after it started.
   */
  refreshIfDue(
    key: string,
    loader: (signal: AbortSignal) => Promise<V | null | undefined>,
    canFill: () => boolean,
    tags?: Tags<V>,
  ): void {
    const { refreshAfterMs, maxBackground, hardTimeoutMs } = this.options;
    const storedAt = this.cache.storedAt(key);
    if (refreshAfterMs === undefined || storedAt === undefined || Date.now() - storedAt < refreshAfterMs) return;
    if (this.cache.loading(key) || this.background >= maxBackground) return;
    const { load } = this.cache.startLoad(key, loader, canFill, tags);
    if (hardTimeoutMs !== undefined) this.abortAfter(key, load, hardTimeoutMs);
    this.runInBackground(key, load, 'refresh');
  }

  private abortAfter(key: string, load: Load<V>, ms: number): void {
    const timer = setTimeout(() => load.controller.abort(new LoadTimeoutError(key, ms)), ms);
    timer.unref();
    load.promise.then(
      () => clearTimeout(timer),
      () => clearTimeout(timer),
    );
  }

  private runInBackground(key: string, load: Load<V>, cause: 'soft_timeout' | 'refresh'): void {
    load.late = true;
    this.background += 1;
    const { events } = this.options;
    events.onBackgroundLoad?.(key, 'started', cause);
    load.promise.then(
      () => events.onBackgroundLoad?.(key, load.filled ? 'cached' : 'discarded', cause),
      () => events.onBackgroundLoad?.(key, 'failed', cause),
    );
    load.promise.finally(() => (this.background -= 1)).catch(() => undefined);
  }

  private serveStale(key: string, fallback: Fallback<V>, reason: StaleReason) {
    const ageMs = Math.max(0, Date.now() - fallback.storedAt);
    this.options.events.onServedStale?.(key, reason, ageMs);
    return { value: fallback.value, stale: { reason, ageMs } };
  }

  private throttle(key: string): void {
    if (this.options.throttleMs <= 0) return;
    this.throttled.delete(key);
    while (this.throttled.size >= MAX_THROTTLED) this.throttled.delete(this.throttled.keys().next().value as string);
    this.throttled.set(key, Date.now() + this.options.throttleMs);
  }

  private isThrottled(key: string): boolean {
    const until = this.throttled.get(key);
    if (until === undefined) return false;
    if (until > Date.now()) return true;
    this.throttled.delete(key);
    return false;
  }
}
