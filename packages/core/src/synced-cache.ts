import { type CacheObserver, LocalCache, type Versioned } from './cache/local-cache';
import type { CacheScope } from './sync/envelope';
import { type Change, InvalidationPublisher, type PublishObserver } from './sync/invalidation-publisher';
import { InvalidationSubscriber, type ReceiveObserver } from './sync/invalidation-subscriber';
import { combineObservers } from './sync/observers';
import { type Outbox, OutboxSweeper } from './sync/outbox-sweeper';
import { pubsubPolicy, RecoveringPolicy, type RecoveryReason, type SyncMode, type SyncPolicy } from './sync/recovery';
import type { RedisTopology, TopologyKind } from './sync/redis-topology';
import { RedisTransport } from './sync/redis-transport';
import { EnvelopeSigner, parseSigningKeys, type SigningKey } from './sync/signing';
import { StaleAudit, type StaleObserver, type WrittenAfter } from './sync/stale-audit';
import { evictWrite, StreamReplay } from './sync/stream-replay';
import type { InvalidationTransport, SubscriberState } from './sync/transport';

/** What the synced cache itself reports: its start, trust, recoveries and the outbox. */
export interface SyncObserver {
  /** Once, when the cache has started: how it was configured. */
  onStarted?(info: { mode: SyncMode; signed: boolean; topology: TopologyKind | 'custom'; size: () => number }): void;
  /** The subscriber came up (on `node`, host:port) or went down. */
  onSubscriberState?(state: SubscriberState, node?: string): void;
  /** The cache became untrusted (reads bypass it) or trusted again after a recovery. */
  onTrustChanged?(trusted: boolean): void;
  onRecovered?(reason: RecoveryReason, ms: number): void;
  onRecoveryFailed?(reason: RecoveryReason, error: Error): void;
  /** Missed invalidations applied by one replay (stream mode). */
  onReplayed?(applied: number): void;
  /** The stream log was trimmed past where a replay had to start: the cache was flushed instead. */
  onLogTooShort?(sinceMs: number): void;
  /** An invalidation whose writer never published it was published from the outbox. */
  onRepublished?(change: Change): void;
  /** The outbox could not be read, claimed or cleared; the next sweep or write tries again. */
  onOutboxError?(error: Error): void;
}

/** Every event of a synced cache: implement the methods you need (a plain object is enough). */
export type SyncedCacheObserver<V extends Versioned = Versioned> = CacheObserver<V> &
  ReceiveObserver &
  PublishObserver &
  StaleObserver &
  SyncObserver;

export interface SyncedCacheOptions<V extends Versioned = Versioned> {
  /** The cache's name: the envelope's `cache` and the `cache` label of its metrics. */
  name: string;
  /** This replica's id: the envelope's `origin`, unique among the replicas on the channel. */
  replicaId: string;
  /** The Redis bus: a `redis://` or `rediss://` URL, or a topology (standalone, Sentinel, Cluster). */
  redis?: string | RedisTopology;
  /** A transport you made (and close) yourself, instead of `redis`: e.g. one wrapped for fault injection. */
  transport?: InvalidationTransport;
  /** The Pub/Sub channel (default `<name>-channel`); the stream log is `{<channel>}:log`. */
  channel?: string;
  /**
   * `pubsub`: the classic pattern, a lost message leaves entries stale until their TTL.
   * `pubsub-flush`: a gap, a reconnect or silent peers flush the cache. `stream` (the default):
   * the same faults replay exactly what was missed from a log written with every publish.
   */
  mode?: SyncMode;
  /** HMAC keys (`id:secret,...` or parsed): the first signs, all verify. Unset: unsigned messages. */
  signingKeys?: string | SigningKey[];
  /** Entry time to live (default 300 s): in `pubsub` mode, how long a lost message can leave an entry stale. */
  ttlSeconds?: number;
  /** Entries at most (default 100,000); the oldest-written is evicted first. */
  maxKeys?: number;
  /** Heartbeat period (default 1,000 ms); members expire after 15 missed heartbeats. */
  heartbeatIntervalMs?: number;
  /** Safer modes: peers silent this long make the cache untrusted (default 3,000 ms). */
  silenceMs?: number;
  /** Safer modes: recovery starts after a random delay up to this (default 200 ms). */
  jitterMs?: number;
  /** Safer modes: how long an invalidation fences older fills (default 10,000 ms). */
  fenceMs?: number;
  /** Stream mode: approximate cap of the log (default 100,000 entries). */
  streamMaxLen?: number;
  /** Safer modes: how long a write retries a rejected publish during a failover (default 5,000 ms). */
  publishRetryMs?: number;
  /** Invalidations of one event-loop turn share a message (default true). */
  coalescePublishes?: boolean;
  /** Concurrent misses of one key share one load (default true). */
  coalesceLoads?: boolean;
  /** A load is shared only with misses within this long of its start (default 5,000 ms): a hung one cannot hold every reader. */
  loadShareMs?: number;
  /** Which keys a message about record `id` may name (default: any key); others are rejected. */
  isKeyOf?: (key: string, id: string) => boolean;
  /** The key a record is cached under by id: only its expiry is audited (default: every key's). */
  primaryKey?: (id: string) => string;
  /** Safer modes: marks of committed writes not yet announced, in your database (see {@link Outbox}). */
  outbox?: Outbox;
  /** An outbox mark older than this is republished by some replica (default 1,500 ms). */
  outboxAgeMs?: number;
  /** Checks a sample of hits, and every expiry, against the source of truth. */
  staleAudit?: { writtenAfter: WrittenAfter; sampleRate: number; graceMs?: number };
  /** Observers that hear everything from the start (add more later with `observe`). */
  observers?: SyncedCacheObserver<V>[];
}

/** The answer of {@link SyncedCache.getOrLoad}: the value (undefined if the source has none) and where it came from. */
export interface Loaded<V> {
  value: V | undefined;
  hit: boolean;
}

const NAME = /^[A-Za-z0-9_.:-]{1,64}$/;
const CHANNEL = /^[A-Za-z0-9_.:-]{1,128}$/;

function check(condition: boolean, option: string, problem: string): void {
  if (!condition) throw new TypeError(`createSyncedCache: ${option} ${problem}`);
}

function checkOptions(options: SyncedCacheOptions<never>): void {
  check(NAME.test(options.name ?? ''), 'name', 'must be 1-64 letters, digits or . _ : -');
  check(NAME.test(options.replicaId ?? ''), 'replicaId', 'must be 1-64 letters, digits or . _ : -');
  check(
    options.channel === undefined || CHANNEL.test(options.channel),
    'channel',
    'must be 1-128 letters, digits or . _ : -',
  );
  check((options.redis === undefined) !== (options.transport === undefined), 'redis', 'or transport: give exactly one');
  check(
    options.mode === undefined || ['pubsub', 'pubsub-flush', 'stream'].includes(options.mode),
    'mode',
    'must be pubsub, pubsub-flush or stream',
  );
  const positive: (keyof SyncedCacheOptions)[] = ['ttlSeconds', 'maxKeys', 'heartbeatIntervalMs', 'silenceMs'];
  for (const name of positive) {
    const value = options[name];
    check(value === undefined || (Number.isFinite(value) && (value as number) > 0), name, 'must be a positive number');
  }
  for (const name of ['jitterMs', 'fenceMs', 'publishRetryMs', 'outboxAgeMs', 'streamMaxLen', 'loadShareMs'] as const) {
    const value = options[name];
    check(value === undefined || (Number.isFinite(value) && value >= 0), name, 'must be a number >= 0');
  }
  const rate = options.staleAudit?.sampleRate;
  check(rate === undefined || (rate >= 0 && rate <= 1), 'staleAudit.sampleRate', 'must be between 0 and 1');
}

/**
 * Creates a local cache kept in sync with its peers over Redis, and resolves once it is
 * subscribed and has announced itself; rejects (with the reason) if Redis cannot be reached.
 */
export async function createSyncedCache<V extends Versioned>(options: SyncedCacheOptions<V>): Promise<SyncedCache<V>> {
  checkOptions(options as SyncedCacheOptions<never>);
  const mode = options.mode ?? 'stream';
  const channel = options.channel ?? `${options.name}-channel`;
  const ownTransport =
    options.transport === undefined
      ? new RedisTransport({
          topology: typeof options.redis === 'string' ? { kind: 'standalone', url: options.redis } : options.redis!,
          channel,
          replicaId: options.replicaId,
          log: mode === 'stream' ? { maxLen: options.streamMaxLen ?? 100_000 } : undefined,
        })
      : undefined;
  await ownTransport?.connect();
  const synced = new SyncedCache<V>(options, mode, channel, options.transport ?? ownTransport!, ownTransport);
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
  private readonly subscriber: InvalidationSubscriber<V>;
  private readonly publisher: InvalidationPublisher;
  private readonly policy: SyncPolicy;
  private readonly sweeper?: OutboxSweeper;
  private readonly audit?: StaleAudit;
  private observer: SyncedCacheObserver<V> = {};
  private readonly signed: boolean;
  /**
   * Asked once a load has read: the cache may have lost trust meanwhile (a replica resumed after a
   * pause finishes reads it started before), and then it must not be filled.
   */
  private readonly canFill = () => this.policy.trusted();

  /** @internal use {@link createSyncedCache} */
  constructor(
    private readonly options: SyncedCacheOptions<V>,
    mode: SyncMode,
    channel: string,
    private readonly transport: InvalidationTransport,
    private readonly ownTransport: RedisTransport | undefined,
  ) {
    this.name = options.name;
    this.replicaId = options.replicaId;
    this.mode = mode;
    this.channel = channel;
    const keys = typeof options.signingKeys === 'string' ? parseSigningKeys(options.signingKeys) : options.signingKeys;
    const signer = keys && keys.length > 0 ? new EnvelopeSigner(keys) : undefined;
    this.signed = signer !== undefined;
    this.cache = new LocalCache<V>({
      ttlSeconds: options.ttlSeconds ?? 300,
      maxKeys: options.maxKeys ?? 100_000,
      // The classic mode has no fences, so its read-populate race stays visible.
      fenceMs: mode === 'pubsub' ? 0 : (options.fenceMs ?? 10_000),
      coalesceLoads: options.coalesceLoads,
      loadShareMs: options.loadShareMs,
    });
    const scope: CacheScope = { name: options.name, isKeyOf: options.isKeyOf ?? (() => true) };
    this.subscriber = new InvalidationSubscriber<V>({
      signer,
      cache: this.cache,
      scope,
      channel,
      selfOrigin: options.replicaId,
      replays: mode === 'stream',
    });
    const heartbeatIntervalMs = options.heartbeatIntervalMs ?? 1000;
    this.publisher = new InvalidationPublisher({
      transport,
      membership: transport.membership(),
      channel,
      cache: options.name,
      origin: options.replicaId,
      heartbeatIntervalMs,
      memberTimeoutMs: heartbeatIntervalMs * 15,
      appendToLog: mode === 'stream',
      signer,
      coalesce: options.coalescePublishes ?? true,
      retryForMs: mode === 'pubsub' ? 0 : (options.publishRetryMs ?? 5000),
    });
    for (const observer of options.observers ?? []) this.observe(observer);
    this.policy = this.createPolicy(mode);
    const { outbox } = options;
    if (outbox && mode !== 'pubsub') {
      const ageMs = options.outboxAgeMs ?? 1500;
      this.sweeper = new OutboxSweeper({
        outbox,
        publish: (change) => this.publisher.publish(change),
        ageMs,
        intervalMs: Math.max(100, Math.floor(ageMs / 3)),
        canPublish: () => transport.ready(),
        evictLocally: (change) => evictWrite(this.cache, change),
        onRepublished: (change) => this.observer.onRepublished?.(change),
        onSweepFailed: (error) => this.observer.onOutboxError?.(error),
      });
    }
    if (options.staleAudit) {
      const { writtenAfter, sampleRate, graceMs } = options.staleAudit;
      const audit = new StaleAudit({ writtenAfter, sampleRate, graceMs: graceMs ?? 0, observer: this.forwardStale() });
      this.audit = audit;
      const primaryKey = options.primaryKey;
      this.cache.observe({
        onEvict: (key, value, reason) => {
          if (reason === 'expired' && (!primaryKey || primaryKey(value.id) === key)) audit.expired(value);
        },
      });
    }
  }

  /** @internal subscribes, then heartbeats and sweeps; called once by createSyncedCache. */
  async start(): Promise<void> {
    const { transport, policy, subscriber } = this;
    subscriber.observe({ onMessage: () => policy.onMessage(), onMissed: () => policy.onGap() });
    transport.onSubscriberState((state, node) => this.observer.onSubscriberState?.(state, node));
    transport.onSubscriberState((state) => policy.onSubscriberState(state));
    await transport.subscribe(subscriber.handle);
    this.publisher.observe({ onMembership: (members) => policy.setLiveMembers(members) });
    await this.publisher.heartbeat();
    this.publisher.startHeartbeats();
    this.sweeper?.start();
    this.observer.onStarted?.({
      mode: this.mode,
      signed: this.signed,
      topology: transport.topology ?? 'custom',
      size: () => this.cache.size,
    });
  }

  /** Adds an observer; every observer hears every event from now on. */
  observe(observer: SyncedCacheObserver<V>): void {
    this.cache.observe(observer);
    this.subscriber.observe(observer);
    this.publisher.observe(observer);
    this.observer = combineObservers(this.observer, observer);
  }

  /**
   * The cached value of `key`, or else what `loader` reads from the source of truth (cached for
   * the next reads). Concurrent misses of one key share one load. While the cache is not trusted
   * (safer modes, after a fault, until recovered) every read goes to `loader` and nothing is cached.
   */
  async getOrLoad(key: string, loader: () => Promise<V | null | undefined>): Promise<Loaded<V>> {
    if (this.policy.trusted()) {
      const cached = this.cache.get(key);
      if (cached !== undefined) return { value: cached, hit: true };
    }
    return { value: await this.cache.load(key, loader, this.canFill), hit: false };
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
   * no real write reaches (`Number.MAX_SAFE_INTEGER`): evicting is always safe.
   */
  async announce(change: Change): Promise<void> {
    for (const key of change.keys) this.cache.evictOlderThan(key, change.id, change.version, 'local_write');
    const { outbox } = this.options;
    try {
      await this.publisher.publish(change);
    } catch (error) {
      if (outbox && this.mode !== 'pubsub') {
        await outbox.expedite(change).catch((failure) => this.observer.onOutboxError?.(failure as Error));
      }
      throw error;
    }
    // Cleared before the caller answers, so its next write of this record cannot race it.
    if (outbox && this.mode !== 'pubsub') {
      await outbox.settle(change).catch((error) => this.observer.onOutboxError?.(error as Error));
    }
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

  /** This process's sequence epoch: the envelope's `epoch`. */
  get epoch(): string {
    return this.publisher.epoch;
  }

  /** Stops heartbeating but stays a member (as a paused process would look to its peers). */
  stopHeartbeats(): void {
    this.publisher.stopHeartbeats();
  }

  startHeartbeats(): void {
    this.publisher.startHeartbeats();
  }

  /** Stops heartbeats, recovery and the sweeper, leaves the member registry, and closes what it opened. */
  async close(): Promise<void> {
    this.sweeper?.stop();
    this.policy.stop();
    await this.publisher.stop();
    await this.ownTransport?.close();
    this.cache.close();
  }

  private forwardStale(): StaleObserver {
    return {
      onStaleRead: (age) => this.observer.onStaleRead?.(age),
      onHitChecked: (stale) => this.observer.onHitChecked?.(stale),
      onStaleWindow: (seconds) => this.observer.onStaleWindow?.(seconds),
      onChecksPending: (change) => this.observer.onChecksPending?.(change),
      onCheckFailed: (error) => this.observer.onCheckFailed?.(error),
    };
  }

  /** The mode's recovery: nothing (pubsub), clear the cache (pubsub-flush), replay the log (stream). */
  private createPolicy(mode: SyncMode): SyncPolicy {
    if (mode === 'pubsub') return pubsubPolicy;
    const { outbox } = this.options;
    const replay =
      mode === 'stream'
        ? new StreamReplay({
            log: this.transport.log(),
            subscriber: this.subscriber,
            cache: this.cache,
            unpublished: async () => (outbox ? outbox.pending() : []),
            onReplayed: (applied) => this.observer.onReplayed?.(applied),
            onLogTooShort: (since) => this.observer.onLogTooShort?.(since),
          })
        : undefined;
    return new RecoveringPolicy({
      mode,
      silenceMs: this.options.silenceMs ?? 3000,
      jitterMs: this.options.jitterMs ?? 200,
      recover: replay ? () => replay.run() : async () => void this.cache.flush('flush'),
      onTrustLost: () => replay?.trustLost(),
      onTrustChanged: (trusted) => this.observer.onTrustChanged?.(trusted),
      onRecovered: (reason, ms) => this.observer.onRecovered?.(reason, ms),
      onRecoveryFailed: (reason, error) => this.observer.onRecoveryFailed?.(reason, error),
    });
  }
}
