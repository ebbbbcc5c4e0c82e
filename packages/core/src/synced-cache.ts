import { CoarseClock } from './cache/coarse-clock';
import { Fallbacks } from './cache/fallbacks';
import { GuardedLoads, type Stale } from './cache/guarded-load';
import { LocalCache, type Versioned } from './cache/local-cache';
import { EventChannel, type SyncedCacheObserver } from './events';
import { resolveOptions, type Settings, type SyncedCacheOptions } from './options';
import { preciseNow } from './sync/clock';
import { type CacheScope, MAX_TAG_LENGTH, MAX_TAGS_PER_MESSAGE } from './sync/envelope';
import { type Change, InvalidationPublisher } from './sync/invalidation-publisher';
import { InvalidationSubscriber } from './sync/invalidation-subscriber';
import { OutboxSweeper } from './sync/outbox-sweeper';
import { pubsubPolicy, RecoveringPolicy, type RecoveryDone, type SyncMode, type SyncPolicy } from './sync/recovery';
import { RedisTransport } from './sync/redis-transport';
import { EnvelopeSigner } from './sync/signing';
import { StaleAudit } from './sync/stale-audit';
import { evictWrite, StreamReplay } from './sync/stream-replay';
import type { InvalidationTransport } from './sync/transport';

/** A committed change to announce: {@link Change}, its `committedAt` optional (default: now). */
export type Announced = Omit<Change, 'committedAt'> & { committedAt?: number };

/**
 * What the `/testing` entry point reaches inside a cache (the publisher's heartbeats and epoch):
 * test hooks, kept off the public class.
 */
export const testHooks = new WeakMap<object, InvalidationPublisher>();

/** Tags one entry may carry. */
export const MAX_TAGS_PER_ENTRY = 64;

/** Per-call options of {@link SyncedCache.getOrLoad}. */
export interface GetOrLoadOptions<V = Versioned> {
  /** Gives up waiting (rejects with the signal's reason); the load goes on for others. */
  signal?: AbortSignal;
  /**
   * The tags the loaded entry carries (at most 64), replacing any it had: {@link
   * SyncedCache.invalidateTags} of one of them evicts it on every replica. Or a function that
   * tells them from the loaded value (a list tagged with the records it holds); such a load is
   * not cached if any tag invalidation comes while it runs. Checked when a load uses them.
   */
  tags?: readonly string[] | ((value: V) => readonly string[]);
}

/** The answer of {@link SyncedCache.getOrLoad}: the value (undefined if the source has none) and where it came from. */
export interface Loaded<V> {
  value: V | undefined;
  hit: boolean;
  /** Set when fail-safe answered a value kept past its eviction: why, and how old it is. */
  stale?: Stale;
}

/**
 * Creates a local cache kept in sync with its peers over Redis, and resolves once it is
 * subscribed and has announced itself; rejects (with the reason) if Redis cannot be reached. A
 * wrong option, or one that does nothing in the chosen mode, is a TypeError that names it.
 */
export async function createSyncedCache<V extends Versioned>(options: SyncedCacheOptions<V>): Promise<SyncedCache<V>> {
  const settings = resolveOptions(options);
  const ownTransport =
    settings.transport === undefined
      ? new RedisTransport({
          topology: settings.redis!,
          channel: settings.channel,
          replicaId: settings.replicaId,
          log: settings.mode === 'stream' ? { maxLen: settings.streamMaxLen } : undefined,
        })
      : undefined;
  await ownTransport?.connect();
  const synced = new SyncedCache<V>(settings, settings.transport ?? ownTransport!, ownTransport);
  try {
    await synced.start();
  } catch (error) {
    await synced.close();
    throw error;
  }
  return synced;
}

/**
 * A local cache of versioned values, kept in sync with the same cache on other replicas:
 * `getOrLoad` reads through it, `announce` tells every replica about a committed change. Made by
 * {@link createSyncedCache}.
 */
export class SyncedCache<V extends Versioned> {
  readonly name: string;
  readonly replicaId: string;
  readonly mode: SyncMode;
  readonly channel: string;
  private readonly cache: LocalCache<V>;
  private readonly loads: GuardedLoads<V>;
  /** With eager refresh: a hit past this age (ms) starts a reload. */
  private readonly refreshAfterMs: number;
  /** With eager refresh: the clock a hit checks the entry's age with (a twentieth of refreshAfterMs at worst). */
  private readonly clock?: CoarseClock;
  private readonly subscriber: InvalidationSubscriber<V>;
  private readonly publisher: InvalidationPublisher;
  private readonly policy: SyncPolicy;
  private readonly sweeper?: OutboxSweeper;
  private readonly audit?: StaleAudit;
  /** Every part emits into it; the policy, metrics, logs and users' observers listen. */
  private readonly events = new EventChannel<V>();
  private readonly signed: boolean;
  /**
   * Asked once a load has read: the cache may have lost trust meanwhile (a replica resumed after a
   * pause finishes reads it started before), and then it must not be filled.
   */
  private readonly canFill = () => this.policy.trusted();

  /** @internal use {@link createSyncedCache} */
  constructor(
    private readonly settings: Settings<V>,
    private readonly transport: InvalidationTransport,
    private readonly ownTransport: RedisTransport | undefined,
  ) {
    const { mode, channel } = settings;
    const events = this.events.emit;
    this.name = settings.name;
    this.replicaId = settings.replicaId;
    this.mode = mode;
    this.channel = channel;
    const signer = settings.signingKeys.length > 0 ? new EnvelopeSigner(settings.signingKeys) : undefined;
    this.signed = signer !== undefined;
    this.cache = new LocalCache<V>({
      ttlSeconds: settings.ttlSeconds,
      maxKeys: settings.maxKeys,
      fenceMs: settings.fenceMs,
      coalesceLoads: settings.coalesceLoads,
      loadShareMs: settings.loadShareMs,
      events,
      fallbacks:
        settings.failSafe &&
        new Fallbacks<V>({
          graceMs: settings.failSafe.graceMs,
          keepInvalidated: settings.failSafe.keepInvalidated,
          maxKeys: settings.maxKeys,
        }),
    });
    this.loads = new GuardedLoads<V>(this.cache, {
      softTimeoutMs: settings.softTimeoutMs,
      hardTimeoutMs: settings.hardTimeoutMs,
      throttleMs: settings.failSafe?.throttleMs ?? 0,
      maxBackground: settings.maxBackground,
      refreshAfterMs: settings.refreshAfterMs,
      events,
    });
    this.refreshAfterMs = settings.refreshAfterMs ?? Number.POSITIVE_INFINITY;
    if (settings.refreshAfterMs !== undefined)
      this.clock = new CoarseClock(Math.min(50, Math.max(1, settings.refreshAfterMs / 20)));
    const scope: CacheScope = { name: settings.name, isKeyOf: settings.isKeyOf, isTag: settings.isTag };
    this.subscriber = new InvalidationSubscriber<V>({
      signer,
      cache: this.cache,
      scope,
      channel,
      selfOrigin: settings.replicaId,
      replays: mode === 'stream',
      events,
      reorderWindowMs: settings.reorderWindowMs,
      onGap: () => this.policy.onGap(),
    });
    this.publisher = new InvalidationPublisher({
      transport,
      membership: transport.membership(),
      channel,
      cache: settings.name,
      origin: settings.replicaId,
      heartbeatIntervalMs: settings.heartbeatIntervalMs,
      memberTimeoutMs: settings.heartbeatIntervalMs * 15,
      appendToLog: mode === 'stream',
      signer,
      coalesce: settings.coalescePublishes,
      retryForMs: settings.publishRetryMs,
      events,
    });
    this.policy = this.createPolicy(mode);
    const policy = this.policy;
    this.events.listen({
      onMessage: () => policy.onMessage(),
      onSubscriberState: (state) => policy.onSubscriberState(state),
      onMembership: (members) => policy.setLiveMembers(members),
    });
    for (const observer of settings.observers) this.events.listen(observer);
    testHooks.set(this, this.publisher);
    if (settings.outbox) {
      const { store, ageMs } = settings.outbox;
      this.sweeper = new OutboxSweeper({
        outbox: store,
        publish: (change) => this.publisher.publish(change),
        ageMs,
        intervalMs: Math.max(100, Math.floor(ageMs / 3)),
        canPublish: () => transport.ready(),
        evictLocally: (change) => evictWrite(this.cache, change),
        events,
      });
    }
    if (settings.audit) {
      const { writtenAfter, acknowledgedAfter, sampleRate, graceMs, primaryKey } = settings.audit;
      const audit = new StaleAudit({ writtenAfter, acknowledgedAfter, sampleRate, graceMs, observer: events });
      this.audit = audit;
      this.events.listen({
        onEvict: (key, value, reason) => {
          if (reason === 'expired' && (!primaryKey || primaryKey(value.id) === key)) audit.expired(value);
        },
      });
    }
  }

  /** @internal subscribes, then heartbeats and sweeps; called once by createSyncedCache. */
  async start(): Promise<void> {
    const { transport, subscriber, events } = this;
    transport.onSubscriberState((state, node) => events.emit.onSubscriberState?.(state, node));
    await transport.subscribe(subscriber.handle);
    await this.publisher.heartbeat();
    this.publisher.startHeartbeats();
    this.sweeper?.start();
    events.emit.onStarted?.({
      replicaId: this.replicaId,
      mode: this.mode,
      signed: this.signed,
      topology: transport.topology ?? 'custom',
      size: () => this.cache.size,
    });
  }

  /** Adds an observer; it hears every event from now on. */
  observe(observer: SyncedCacheObserver<V>): void {
    this.events.listen(observer);
  }

  /**
   * The cached value of `key`, or else what `loader` reads from the source of truth (cached for
   * the next reads). Concurrent misses of one key share one load. While the cache is not trusted
   * (safer modes, after a fault, until recovered) every read goes to `loader` and nothing is cached.
   */
  async getOrLoad(
    key: string,
    loader: (signal: AbortSignal) => Promise<V | null | undefined>,
    options?: GetOrLoadOptions<V>,
  ): Promise<Loaded<V>> {
    const trusted = this.policy.trusted();
    if (trusted) {
      const cached = this.cache.get(key);
      if (cached !== undefined) {
        // Cheap test first (a field, a map lookup); refreshIfDue checks again with the exact time.
        if (this.clock !== undefined && this.clock.now - this.cache.storedAt(key)! >= this.refreshAfterMs)
          this.loads.refreshIfDue(key, loader, this.canFill, this.checkedTags(options?.tags));
        return { value: cached, hit: true };
      }
    }
    const tags = this.checkedTags(options?.tags);
    // Untrusted, a kept value may have been invalidated by a message this replica missed.
    const withFallback = trusted || this.settings.failSafe?.keepInvalidated === true;
    const loaded = await this.loads.read(key, loader, this.canFill, withFallback, options?.signal, tags);
    return loaded.stale
      ? { value: loaded.value, hit: false, stale: loaded.stale }
      : { value: loaded.value, hit: false };
  }

  /** The cached value of `key` without counting a hit or a miss, or loading anything. */
  peek(key: string): V | undefined {
    return this.cache.peek(key);
  }

  /**
   * Announces a committed change: evicts older versions of its keys here, then publishes the
   * invalidation to every replica; resolves once Redis took it, rejects if it did not (the write
   * stays committed: receivers count the gap, and with an outbox another replica republishes it).
   * Call it after every commit, and also after a write whose outcome is unknown, with a version
   * no real write reaches (`Number.MAX_SAFE_INTEGER`): evicting is always safe. `committedAt`
   * defaults to now: give the commit's time when you know it, so stale windows start there.
   */
  async announce(announced: Announced): Promise<void> {
    const change: Change =
      announced.committedAt === undefined ? { ...announced, committedAt: preciseNow() } : (announced as Change);
    for (const key of change.keys) this.cache.evictOlderThan(key, change.id, change.version, 'local_write');
    const outbox = this.settings.outbox?.store;
    const outboxFailed = (error: unknown) => this.events.emit.onError?.(error as Error, 'outbox');
    try {
      await this.publisher.publish(change);
    } catch (error) {
      if (outbox) await outbox.expedite(change).catch(outboxFailed);
      throw error;
    }
    // Cleared before the caller answers, so its next write of this record cannot race it.
    if (outbox) await outbox.settle(change).catch(outboxFailed);
  }

  /**
   * Evicts every entry carrying one of `tags`, here and then on every replica, after the changes
   * behind it committed; loads of those tags under way here or there are not cached. Ordered by a
   * version Redis hands out, never by clocks, and sent in the same numbered (and signed) sequence
   * as key invalidations: a replica that misses it counts it, and in `stream` mode replays it.
   * Resolves once Redis took it; rejects if it did not (the local eviction stands: retry).
   */
  async invalidateTags(tags: readonly string[]): Promise<void> {
    this.checkTags(tags, MAX_TAGS_PER_MESSAGE, 'invalidateTags');
    await this.invalidateBulk([...new Set(tags)]);
  }

  /** {@link invalidateTags} for every entry: clears this cache, then every replica's. */
  async clear(): Promise<void> {
    await this.invalidateBulk(undefined);
  }

  /** Whether reads may use the local cache now (always in `pubsub` mode). */
  trusted(): boolean {
    return this.policy.trusted();
  }

  /**
   * Hands a hit to the stale audit (a sample is checked against the source, off the request
   * path); `delivered` is asked a turn later, so an answer the client never got is not counted.
   */
  auditHit(value: V, servedAt: number, delivered?: () => boolean): void {
    this.audit?.hit(value, servedAt, delivered);
  }

  /** Entries in the local cache. */
  get size(): number {
    return this.cache.size;
  }

  /** Stops heartbeats, recovery and the sweeper, leaves the member registry, and closes what it opened. */
  async close(): Promise<void> {
    this.subscriber.countOpenGaps();
    this.sweeper?.stop();
    this.clock?.stop();
    this.policy.stop();
    await this.publisher.stop();
    await this.ownTransport?.close();
    this.cache.close();
  }

  private async invalidateBulk(tags: readonly string[] | undefined): Promise<void> {
    const committedAt = preciseNow();
    // Before Redis answers: whatever is cached or loading here now may predate the change.
    const evictedKeys = tags
      ? this.cache.invalidateTags(tags, Number.POSITIVE_INFINITY, 'local_write')
      : this.cache.clear(Number.POSITIVE_INFINITY, 'local_write');
    const version = await this.publisher.publishBulk(tags, committedAt);
    this.cache.noteVersion(version);
    this.events.emit.onTagInvalidation?.({
      kind: tags ? 'tags' : 'clear',
      tags: tags ?? [],
      version,
      evictedKeys,
      origin: this.replicaId,
      local: true,
      lagSeconds: undefined,
      staleWindowSeconds: undefined,
      traceId: undefined,
    });
  }

  /** The tags a load will cache its entry with, checked now, or (told from its value) once it has loaded. */
  private checkedTags(given: GetOrLoadOptions<V>['tags']): GetOrLoadOptions<V>['tags'] {
    if (typeof given !== 'function') {
      if (given !== undefined) this.checkTags(given, MAX_TAGS_PER_ENTRY, 'getOrLoad');
      return given;
    }
    return (value: V) => {
      const told = given(value);
      this.checkTags(told, MAX_TAGS_PER_ENTRY, 'getOrLoad');
      return told;
    };
  }

  /** Tags must be non-empty strings of this cache (`sync.isTag`), at most `max` of them. */
  private checkTags(tags: readonly string[], max: number, method: string): void {
    if (!Array.isArray(tags) || tags.length < 1 || tags.length > max)
      throw new TypeError(`${method}: tags must be an array of 1 to ${max} tags`);
    for (const tag of tags) {
      if (typeof tag !== 'string' || tag.length < 1 || tag.length > MAX_TAG_LENGTH)
        throw new TypeError(`${method}: a tag must be a string of 1 to ${MAX_TAG_LENGTH} characters`);
      if (!this.settings.isTag(tag))
        throw new TypeError(
          `${method}: unknown tag ${JSON.stringify(tag.slice(0, 64))} (not a tag of this cache: sync.isTag)`,
        );
    }
  }

  /** The mode's recovery: nothing (pubsub), clear the cache (pubsub-flush), replay the log (stream). */
  private createPolicy(mode: SyncMode): SyncPolicy {
    if (mode === 'pubsub') return pubsubPolicy;
    const outbox = this.settings.outbox?.store;
    const replay =
      mode === 'stream'
        ? new StreamReplay({
            log: this.transport.log(),
            subscriber: this.subscriber,
            cache: this.cache,
            unpublished: async () => (outbox ? outbox.pending() : []),
          })
        : undefined;
    const flush = async (): Promise<RecoveryDone> => {
      this.cache.flush('flush');
      return { action: 'flushed' };
    };
    return new RecoveringPolicy({
      mode,
      silenceMs: this.settings.silenceMs,
      jitterMs: this.settings.jitterMs,
      recover: replay ? () => replay.run() : flush,
      onTrustLost: () => replay?.trustLost(),
      events: this.events.emit,
    });
  }
}
