import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { Versioned } from './cache/local-cache';
import type { SyncedCacheObserver } from './events';
import type { Outbox } from './sync/outbox-sweeper';
import { SYNC_MODES, type SyncMode } from './sync/recovery';
import type { RedisTopology } from './sync/redis-topology';
import { parseSigningKeys, type SigningKey } from './sync/signing';
import type { WrittenAfter } from './sync/stale-audit';
import type { InvalidationTransport } from './sync/transport';

export interface SyncedCacheOptions<V extends Versioned = Versioned> {
  /** The cache's name: the envelope's `cache` and the `cache` label of its metrics. */
  name: string;
  /** This replica's id, unique on the channel (default: host, process id and a random suffix; see the started event). */
  replicaId?: string;
  /** Where the messages travel: Redis (any topology), or a transport you made. */
  bus: {
    /** The Pub/Sub channel (default `<name>-channel`); the stream log is `{<channel>}:log`. */
    channel?: string;
    /** Heartbeat period (default 1,000 ms); members expire after 15 missed heartbeats. */
    heartbeatIntervalMs?: number;
  } & (
    | {
        /** A `redis://` or `rediss://` URL, or a topology (standalone, Sentinel, Cluster). */
        redis: string | RedisTopology;
        transport?: never;
      }
    | {
        /** A transport you made (and close) yourself: one wrapped for fault injection, or a `MemoryBus` one from `/testing` in tests. */
        transport: InvalidationTransport;
        redis?: never;
      }
  );
  /** How replicas stay in sync, and how they recover from a lost message. */
  sync?: {
    /**
     * `pubsub`: the classic pattern, a lost message leaves entries stale until their TTL.
     * `pubsub-flush`: a gap, a reconnect or silent peers flush the cache. `stream` (the default):
     * the same faults replay exactly what was missed from a log written with every publish.
     */
    mode?: SyncMode;
    /** Safer modes: peers silent this long make the cache untrusted (default 3,000 ms). */
    silenceMs?: number;
    /**
     * Safer modes: recovery starts after a random delay up to this, so flushed replicas do not all
     * reload at once (default 200 ms in pubsub-flush; 0 in stream, whose replay reads the log in
     * Redis, and where every moment of delay is reads bypassing the cache).
     */
    jitterMs?: number;
    /** Safer modes: how long an invalidation fences older fills (default 10,000 ms). */
    fenceMs?: number;
    /** Safer modes: how long a write retries a rejected publish during a failover (default 5,000 ms). */
    publishRetryMs?: number;
    /**
     * A sequence gap counts as missed (`onMissed`) only if its messages have not arrived this long
     * after it: a retried or redirected publish can arrive after later ones (a Cluster redirect
     * measured here came 110 ms late). Recovery starts at once all the same (default 1,000 ms).
     */
    reorderWindowMs?: number;
    /** Stream mode on `bus.redis`: approximate cap of the log (default 100,000 entries). */
    streamMaxLen?: number;
    /** Invalidations of one event-loop turn share a message (default true). */
    coalescePublishes?: boolean;
    /** Which keys a message about record `id` may name (default: any key); others are rejected. */
    isKeyOf?: (key: string, id: string) => boolean;
    /** Which tags entries may carry and messages may name (default: any); others are an error here and rejected there. */
    isTag?: (tag: string) => boolean;
  };
  /** The local cache's size and lifetime. */
  cache?: {
    /** Entry time to live (default 300 s): in `pubsub` mode, how long a lost message can leave an entry stale. */
    ttlSeconds?: number;
    /** Entries at most (default 100,000); the oldest-written is evicted first. */
    maxKeys?: number;
  };
  /** How misses load from the source of truth. */
  loads?: {
    /** Concurrent misses of one key share one load (default true). */
    coalesce?: boolean;
    /** With `coalesce`: a load is shared only with misses within this long of its start (default 5,000 ms), so a hung one cannot hold every reader. */
    shareMs?: number;
    /** With `failSafe`: after this long, answer the fallback (marked stale) and let the load finish in the background. */
    softTimeoutMs?: number;
    /** Abort the load's signal after this long; answer the fallback, or reject with a LoadTimeoutError. */
    hardTimeoutMs?: number;
    /**
     * Refresh ahead of expiry: a hit on an entry older than this fraction of `cache.ttlSeconds`
     * (between 0 and 1) reloads it in the background, so a key read steadily never misses on expiry.
     */
    eagerRefresh?: number;
    /** With `softTimeoutMs` or `eagerRefresh`: loads running in the background at most (default 100); past it callers wait and refreshes wait. */
    maxBackground?: number;
  };
  /**
   * Fail-safe: an expired value is kept as a fallback until its grace ends, and answered (marked
   * stale, with its age, and counted) when a load fails or times out.
   */
  failSafe?: {
    /** How long a value may answer as a fallback, counted from when it was loaded; at least `cache.ttlSeconds`. */
    graceSeconds: number;
    /** After a failed load, the key answers its fallback without loading for this long (default 1,000 ms). */
    throttleMs?: number;
    /** Also keep values an invalidation evicted (default false): an invalidated value is known to be old. */
    serveInvalidated?: boolean;
  };
  /** Safer modes: marks of committed writes not yet announced, kept in your database. */
  outbox?: {
    /** Your implementation of {@link Outbox}. */
    store: Outbox;
    /** A mark older than this is republished by some replica (default 1,500 ms). */
    ageMs?: number;
  };
  /** Checks a sample of hits, and every expiry, against the source of truth. */
  audit?: {
    /** When the first version after `version` of record `id` was written (epoch ms), or undefined. */
    writtenAfter: WrittenAfter;
    /**
     * When a version after `version` was first acknowledged to the client that wrote it (epoch
     * ms), or undefined. Given, a hit counts as stale only once a newer write was acknowledged
     * before it, as its readers can tell; one between a commit and its acknowledgment is reported
     * apart (`onHitUnacknowledged`). A time later than now means "not known yet": the check
     * asks once more when it has passed (60 s at most), since an acknowledgment may be recorded
     * after it was given. Without it, the commit time decides.
     */
    acknowledgedAfter?: WrittenAfter;
    /** Fraction of hits checked, 0 to 1. */
    sampleRate: number;
    /** A newer version written less than this before the hit does not make it stale (default 0 ms). */
    graceMs?: number;
    /** The key a record is cached under by id: only its expiry is audited (default: every key's). */
    primaryKey?: (id: string) => string;
  };
  /** HMAC-SHA256 on every message: the first key signs, all verify. Unset: unsigned messages. */
  signing?: {
    /** `id:secret,...` (secrets of 16+ bytes) or parsed keys. */
    keys: string | SigningKey[];
  };
  /** Observers that hear everything from the start (add more later with `observe`). */
  observers?: SyncedCacheObserver<V>[];
}

/** The options with every default applied, validated: what the parts of a synced cache are built from. */
export interface Settings<V extends Versioned> {
  name: string;
  replicaId: string;
  mode: SyncMode;
  channel: string;
  redis?: RedisTopology;
  transport?: InvalidationTransport;
  heartbeatIntervalMs: number;
  silenceMs: number;
  jitterMs: number;
  /** 0 in `pubsub` mode: the classic mode has no fences, so its read-populate race stays visible. */
  fenceMs: number;
  reorderWindowMs: number;
  /** 0 in `pubsub` mode: one try. */
  publishRetryMs: number;
  streamMaxLen: number;
  coalescePublishes: boolean;
  isKeyOf: (key: string, id: string) => boolean;
  isTag: (tag: string) => boolean;
  ttlSeconds: number;
  maxKeys: number;
  coalesceLoads: boolean;
  loadShareMs: number;
  softTimeoutMs?: number;
  hardTimeoutMs?: number;
  maxBackground: number;
  refreshAfterMs?: number;
  failSafe?: { graceMs: number; throttleMs: number; keepInvalidated: boolean };
  outbox?: Required<NonNullable<SyncedCacheOptions['outbox']>>;
  audit?: NonNullable<SyncedCacheOptions['audit']> & { graceMs: number };
  signingKeys: SigningKey[];
  observers: SyncedCacheObserver<V>[];
}

const NAME = /^[A-Za-z0-9_.:-]{1,64}$/;
const CHANNEL = /^[A-Za-z0-9_.:-]{1,128}$/;

function check(condition: boolean, option: string, problem: string): void {
  if (!condition) throw new TypeError(`createSyncedCache: ${option} ${problem}`);
}

const positive = (value: number | undefined, option: string) =>
  check(value === undefined || (Number.isFinite(value) && value > 0), option, 'must be a positive number');
const atLeastZero = (value: number | undefined, option: string) =>
  check(value === undefined || (Number.isFinite(value) && value >= 0), option, 'must be a number >= 0');

/** Options that act only in some modes: naming one where it does nothing is an error, not a silent no-op. */
function checkModeOptions(options: SyncedCacheOptions<never>, mode: SyncMode): void {
  const sync = options.sync ?? {};
  const safer = ['silenceMs', 'jitterMs', 'fenceMs', 'publishRetryMs'] as const;
  for (const name of safer)
    check(
      mode !== 'pubsub' || sync[name] === undefined,
      `sync.${name}`,
      'does nothing in pubsub mode (it has no recovery)',
    );
  check(
    mode !== 'pubsub' || options.outbox === undefined,
    'outbox',
    'does nothing in pubsub mode: use pubsub-flush or stream',
  );
  check(
    mode === 'stream' || sync.streamMaxLen === undefined,
    'sync.streamMaxLen',
    `does nothing in ${mode} mode (no log)`,
  );
  check(
    options.bus?.transport === undefined || sync.streamMaxLen === undefined,
    'sync.streamMaxLen',
    'does nothing with bus.transport (the transport owns its log)',
  );
  check(
    options.loads?.coalesce !== false || options.loads.shareMs === undefined,
    'loads.shareMs',
    'does nothing with loads.coalesce false',
  );
}

/** Fail-safe and timeouts: each option checked against the ones it needs. */
function checkFailSafeOptions(options: SyncedCacheOptions<never>, ttlSeconds: number): void {
  const loads = options.loads ?? {};
  const failSafe = options.failSafe;
  positive(loads.softTimeoutMs, 'loads.softTimeoutMs');
  positive(loads.hardTimeoutMs, 'loads.hardTimeoutMs');
  positive(loads.maxBackground, 'loads.maxBackground');
  check(
    loads.softTimeoutMs === undefined || failSafe !== undefined,
    'loads.softTimeoutMs',
    'does nothing without failSafe (there is no fallback to answer)',
  );
  check(
    loads.softTimeoutMs === undefined || loads.hardTimeoutMs === undefined || loads.softTimeoutMs < loads.hardTimeoutMs,
    'loads.softTimeoutMs',
    'must be shorter than loads.hardTimeoutMs',
  );
  check(
    loads.maxBackground === undefined || loads.softTimeoutMs !== undefined || loads.eagerRefresh !== undefined,
    'loads.maxBackground',
    'does nothing without loads.softTimeoutMs or loads.eagerRefresh',
  );
  check(
    loads.eagerRefresh === undefined || (loads.eagerRefresh > 0 && loads.eagerRefresh < 1),
    'loads.eagerRefresh',
    'must be a fraction of the TTL between 0 and 1',
  );
  if (failSafe === undefined) return;
  positive(failSafe.graceSeconds, 'failSafe.graceSeconds');
  check(
    failSafe.graceSeconds >= ttlSeconds,
    'failSafe.graceSeconds',
    `must be at least cache.ttlSeconds (${ttlSeconds}): a fallback is kept from when it was loaded`,
  );
  atLeastZero(failSafe.throttleMs, 'failSafe.throttleMs');
}

/** A replica id unique among the replicas of a channel, readable in logs and metrics. */
function generatedReplicaId(): string {
  const host = hostname()
    .replace(/[^A-Za-z0-9_.:-]/g, '-')
    .slice(0, 40);
  return `${host}-${process.pid}-${randomBytes(3).toString('hex')}`;
}

/** Validates the options (a TypeError names the first wrong one) and applies every default. */
export function resolveOptions<V extends Versioned>(options: SyncedCacheOptions<V>): Settings<V> {
  const given = options as SyncedCacheOptions<never>;
  check(typeof options === 'object' && options !== null, 'options', 'must be an object');
  check(NAME.test(options.name ?? ''), 'name', 'must be 1-64 letters, digits or . _ : -');
  check(
    options.replicaId === undefined || NAME.test(options.replicaId),
    'replicaId',
    'must be 1-64 letters, digits or . _ : -',
  );
  const legacy = ['redis', 'transport', 'mode', 'channel', 'signingKeys', 'ttlSeconds', 'staleAudit'].filter(
    (k) => k in options,
  );
  check(
    legacy.length === 0,
    legacy[0] ?? '',
    'moved in 0.2.0: options are grouped (bus, sync, cache, loads, outbox, audit, signing); see the CHANGELOG',
  );
  const bus = options.bus;
  check(typeof bus === 'object' && bus !== null, 'bus', 'is required: { redis } or { transport }');
  check((bus.redis === undefined) !== (bus.transport === undefined), 'bus.redis', 'or bus.transport: give exactly one');
  check(
    bus.channel === undefined || CHANNEL.test(bus.channel),
    'bus.channel',
    'must be 1-128 letters, digits or . _ : -',
  );
  const sync = options.sync ?? {};
  check(sync.mode === undefined || SYNC_MODES.includes(sync.mode), 'sync.mode', `must be ${SYNC_MODES.join(', ')}`);
  const mode = sync.mode ?? 'stream';
  checkModeOptions(given, mode);
  positive(bus.heartbeatIntervalMs, 'bus.heartbeatIntervalMs');
  positive(sync.silenceMs, 'sync.silenceMs');
  positive(options.cache?.ttlSeconds, 'cache.ttlSeconds');
  positive(options.cache?.maxKeys, 'cache.maxKeys');
  for (const name of ['jitterMs', 'fenceMs', 'publishRetryMs', 'reorderWindowMs', 'streamMaxLen'] as const)
    atLeastZero(sync[name], `sync.${name}`);
  atLeastZero(options.loads?.shareMs, 'loads.shareMs');
  checkFailSafeOptions(given, options.cache?.ttlSeconds ?? 300);
  atLeastZero(options.outbox?.ageMs, 'outbox.ageMs');
  check(
    options.outbox === undefined || typeof options.outbox.store === 'object',
    'outbox.store',
    'is required with outbox',
  );
  const audit = options.audit;
  check(
    audit === undefined || typeof audit.writtenAfter === 'function',
    'audit.writtenAfter',
    'is required with audit',
  );
  check(
    audit?.acknowledgedAfter === undefined || typeof audit.acknowledgedAfter === 'function',
    'audit.acknowledgedAfter',
    'must be a function',
  );
  check(
    audit === undefined || (audit.sampleRate >= 0 && audit.sampleRate <= 1),
    'audit.sampleRate',
    'must be between 0 and 1',
  );
  atLeastZero(audit?.graceMs, 'audit.graceMs');
  const keys =
    options.signing === undefined
      ? []
      : typeof options.signing.keys === 'string'
        ? parseSigningKeys(options.signing.keys)
        : options.signing.keys;
  check(options.signing === undefined || keys.length > 0, 'signing.keys', 'must name at least one key');
  return {
    name: options.name,
    replicaId: options.replicaId ?? generatedReplicaId(),
    mode,
    channel: bus.channel ?? `${options.name}-channel`,
    redis: typeof bus.redis === 'string' ? { kind: 'standalone', url: bus.redis } : bus.redis,
    transport: bus.transport,
    heartbeatIntervalMs: bus.heartbeatIntervalMs ?? 1000,
    silenceMs: sync.silenceMs ?? 3000,
    jitterMs: sync.jitterMs ?? (mode === 'stream' ? 0 : 200),
    fenceMs: mode === 'pubsub' ? 0 : (sync.fenceMs ?? 10_000),
    publishRetryMs: mode === 'pubsub' ? 0 : (sync.publishRetryMs ?? 5000),
    reorderWindowMs: sync.reorderWindowMs ?? 1000,
    streamMaxLen: sync.streamMaxLen ?? 100_000,
    coalescePublishes: sync.coalescePublishes ?? true,
    isKeyOf: sync.isKeyOf ?? (() => true),
    isTag: sync.isTag ?? (() => true),
    ttlSeconds: options.cache?.ttlSeconds ?? 300,
    maxKeys: options.cache?.maxKeys ?? 100_000,
    coalesceLoads: options.loads?.coalesce ?? true,
    loadShareMs: options.loads?.shareMs ?? 5000,
    softTimeoutMs: options.loads?.softTimeoutMs,
    hardTimeoutMs: options.loads?.hardTimeoutMs,
    maxBackground: options.loads?.maxBackground ?? 100,
    refreshAfterMs:
      options.loads?.eagerRefresh === undefined
        ? undefined
        : options.loads.eagerRefresh * (options.cache?.ttlSeconds ?? 300) * 1000,
    failSafe: options.failSafe && {
      graceMs: options.failSafe.graceSeconds * 1000,
      throttleMs: options.failSafe.throttleMs ?? 1000,
      keepInvalidated: options.failSafe.serveInvalidated ?? false,
    },
    outbox: options.outbox && { store: options.outbox.store, ageMs: options.outbox.ageMs ?? 1500 },
    audit: audit && { ...audit, graceMs: audit.graceMs ?? 0 },
    signingKeys: keys,
    observers: options.observers ?? [],
  };
}
