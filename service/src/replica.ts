import type Koa from 'koa';
import type { Book } from './books/book';
import { BookRepository } from './books/book-repository';
import { BookService } from './books/book-service';
import { OutboxSweeper, outboxKeys } from './books/outbox-sweeper';
import { LocalCache } from './cache/local-cache';
import { ChaosSwitch } from './chaos/chaos-switch';
import type { Config } from './config';
import { createApp } from './http/app';
import { benchRoutes, LagSamples } from './http/bench-routes';
import { InvalidationPublisher } from './sync/invalidation-publisher';
import { InvalidationSubscriber } from './sync/invalidation-subscriber';
import { RecoveringPolicy, type RecoveryReason, SYNC_MODES, type SyncPolicy, seedPolicy } from './sync/recovery';
import { RedisTransport } from './sync/redis-transport';
import { createLogger, type Logger } from './telemetry/logger';
import {
  cacheMetricsObserver,
  publishMetricsObserver,
  receiveMetricsObserver,
  staleMetricsObserver,
  subscriberStateMetrics,
} from './telemetry/metric-observers';
import { createMetrics, type Metrics } from './telemetry/metrics';

export const CACHE_NAME = 'book';

export interface Replica {
  app: Koa;
  books: BookService;
  cache: LocalCache<Book>;
  metrics: Metrics;
  logger: Logger;
  transport: RedisTransport;
  publisher: InvalidationPublisher;
  repository: BookRepository;
  policy: SyncPolicy;
  /** Armed through the admin port when CHAOS_ENABLED=1 (see chaos/admin-server.ts). */
  chaos: ChaosSwitch;
  /** Stops heartbeats and closes the subscriber, the publisher and MongoDB, in that order. */
  close(): Promise<void>;
}

export type ReplicaConfig = Pick<
  Config,
  | 'REPLICA_ID'
  | 'MONGODB_URI'
  | 'REDIS_URL'
  | 'CACHE_TTL_SECONDS'
  | 'CACHE_MAX_KEYS'
  | 'INVALIDATION_CHANNEL'
  | 'HEARTBEAT_INTERVAL_MS'
  | 'SYNC_MODE'
  | 'SYNC_SILENCE_MS'
  | 'SYNC_JITTER_MS'
  | 'SYNC_COALESCE'
  | 'FENCE_MS'
  | 'STREAM_MAXLEN'
  | 'OUTBOX_AGE_MS'
  | 'STALE_CHECK_SAMPLE_RATE'
  | 'STALE_CHECK_GRACE_MS'
  | 'MAX_BODY_BYTES'
  | 'LOG_LEVEL'
> &
  Partial<Pick<Config, 'BENCH_ROUTES'>>;

/** Wires one replica: cache, MongoDB, Redis sync, metrics and the HTTP app (not listening). */
export async function createReplica(
  config: ReplicaConfig,
  logger = createLogger(config.REPLICA_ID, config.LOG_LEVEL),
): Promise<Replica> {
  const metrics = createMetrics(CACHE_NAME);
  const mode = config.SYNC_MODE;
  const cache = new LocalCache<Book>({
    ttlSeconds: config.CACHE_TTL_SECONDS,
    maxKeys: config.CACHE_MAX_KEYS,
    // The seed has no fences, so its read-populate race stays visible.
    fenceMs: mode === 'pubsub' ? 0 : config.FENCE_MS,
  });
  cache.observe(cacheMetricsObserver(metrics, () => cache.size));

  const transport = new RedisTransport({
    url: config.REDIS_URL,
    channel: config.INVALIDATION_CHANNEL,
    replicaId: config.REPLICA_ID,
    log: mode === 'stream' ? { key: `${config.INVALIDATION_CHANNEL}:log`, maxLen: config.STREAM_MAXLEN } : undefined,
    onError: (role, error) => logger.debug({ err: error, role }, 'redis connection error'),
  });
  transport.onSubscriberState(subscriberStateMetrics(metrics, logger));

  // The safer modes close the crash-after-commit window with an outbox in the book document.
  const outbox = mode !== 'pubsub';
  const repository = await BookRepository.connect(config.MONGODB_URI, { outbox });
  try {
    await transport.connect();
  } catch (error) {
    await repository.close();
    transport.subscriber.disconnect();
    transport.publisher.disconnect();
    throw error;
  }

  const chaos = new ChaosSwitch(undefined, (ms) => transport.pauseSubscriber(ms));
  const received = receiveMetricsObserver(metrics, logger);
  let policy: SyncPolicy = seedPolicy;
  const lagSamples = config.BENCH_ROUTES ? new LagSamples() : undefined;
  const subscriber = new InvalidationSubscriber({
    cache,
    cacheName: CACHE_NAME,
    channel: config.INVALIDATION_CHANNEL,
    selfOrigin: config.REPLICA_ID,
    observer: {
      ...received,
      onInvalidation: (applied) => {
        received.onInvalidation?.(applied);
        lagSamples?.record(applied.lagSeconds);
      },
      onMessage: (message) => {
        received.onMessage?.(message);
        policy.onMessage();
      },
      onMissed: (count, origin) => {
        received.onMissed?.(count, origin);
        policy.onGap();
      },
    },
  });
  policy = createPolicy(config, cache, subscriber, transport, repository, metrics, logger);
  transport.onSubscriberState((state) => policy.onSubscriberState(state));
  await transport.subscribe(subscriber.handle);

  const published = publishMetricsObserver(metrics, logger);
  let lastUsable = true;
  const publisher = new InvalidationPublisher({
    transport,
    membership: transport.membership(),
    channel: config.INVALIDATION_CHANNEL,
    cache: CACHE_NAME,
    origin: config.REPLICA_ID,
    heartbeatIntervalMs: config.HEARTBEAT_INTERVAL_MS,
    memberTimeoutMs: config.HEARTBEAT_INTERVAL_MS * 15,
    observer: {
      ...published,
      onMembership: (members) => {
        published.onMembership?.(members);
        policy.setLiveMembers(members);
      },
    },
    faults: chaos,
    coalesce: config.SYNC_COALESCE,
  });
  await publisher.heartbeat();
  publisher.startHeartbeats();

  const books = new BookService({
    repository,
    cache,
    publisher,
    logger,
    staleCheckSampleRate: config.STALE_CHECK_SAMPLE_RATE,
    staleCheckGraceMs: config.STALE_CHECK_GRACE_MS,
    stale: staleMetricsObserver(metrics),
    faults: chaos,
    outbox,
    cacheUsable: () => {
      const usable = policy.cacheUsable();
      // On every read: touch the gauge only when the verdict changes.
      if (usable !== lastUsable) metrics.cacheUsable.set({ cache: CACHE_NAME }, usable ? 1 : 0);
      lastUsable = usable;
      return usable;
    },
  });

  const app = createApp({
    replicaId: config.REPLICA_ID,
    books,
    metrics,
    logger,
    maxBodyBytes: config.MAX_BODY_BYTES,
    extraRoutes: lagSamples ? benchRoutes(repository, transport.publisher, lagSamples) : undefined,
    readiness: [
      { name: 'mongodb', check: () => repository.ping() },
      { name: 'redis', check: async () => void (await transport.publisher.ping()) },
      {
        name: 'subscriber',
        check: async () => {
          if (transport.subscriberState !== 'up') throw new Error('not subscribed');
        },
      },
    ],
  });

  const sweeper = outbox
    ? new OutboxSweeper({
        repository,
        publisher,
        logger,
        ageMs: config.OUTBOX_AGE_MS,
        intervalMs: Math.max(100, Math.floor(config.OUTBOX_AGE_MS / 3)),
        canPublish: () => transport.subscriberState === 'up' && transport.publisher.status === 'ready',
        evictLocally: (keys, id, version) => evictWrite(cache, keys, id, version),
        onRepublished: (entry) => {
          metrics.outboxRepublished.inc({ cache: CACHE_NAME });
          logger.warn(
            { id: entry.id, version: entry.version, op: entry.op },
            'republished an orphaned invalidation from the outbox',
          );
        },
      })
    : undefined;
  sweeper?.start();

  return {
    app,
    books,
    cache,
    metrics,
    logger,
    transport,
    publisher,
    repository,
    chaos,
    policy,
    async close() {
      sweeper?.stop();
      policy.stop();
      await publisher.stop();
      await transport.close();
      await repository.close();
      cache.close();
    },
  };
}

/** Applies a write this replica did not hear about as if its invalidation had arrived. */
function evictWrite(cache: LocalCache<Book>, keys: string[], id: string, version: number): void {
  for (const key of keys) cache.evictOlderThan(key, id, version, 'invalidation');
}

/** The sync mode's recovery: nothing (pubsub), clear the cache (pubsub-flush), replay the log (stream). */
function createPolicy(
  config: ReplicaConfig,
  cache: LocalCache<Book>,
  subscriber: InvalidationSubscriber<Book>,
  transport: RedisTransport,
  repository: BookRepository,
  metrics: Metrics,
  logger: Logger,
): SyncPolicy {
  const mode = config.SYNC_MODE;
  for (const each of SYNC_MODES) metrics.syncMode.set({ cache: CACHE_NAME, mode: each }, each === mode ? 1 : 0);
  if (mode === 'pubsub') return seedPolicy;
  const labels = { cache: CACHE_NAME };
  for (const reason of ['gap', 'reconnect', 'silence']) metrics.recoveries.inc({ ...labels, mode, reason }, 0);
  cache.observe({ onFillRejected: () => metrics.fillsRejected.inc(labels) });
  const startedAt = Date.now();
  const flush = async () => {
    cache.flush('flush');
  };
  // Where the next replay starts: the newest message applied when the cache stopped being
  // trusted. Not the newest applied now: messages that arrive live after a reconnect, before the
  // replay runs, are newer than the ones the outage lost.
  let replayFrom: number | undefined;
  const replaySince = async (since: number) => {
    const { payloads, reachesBack } = await transport.invalidationLog().readSince(since);
    if (!reachesBack) {
      logger.warn({ since }, 'the invalidation log no longer reaches back: flushing');
      return flush();
    }
    let applied = 0;
    for (const payload of payloads) if (subscriber.replay(payload)) applied += 1;
    // Writes whose publish failed (Redis was away, their replica died) never reached the log:
    // their outbox marks name them until a sweeper republishes them.
    for (const entry of await repository.pendingOutbox()) {
      evictWrite(cache, outboxKeys(entry), entry.id, entry.version);
      applied += 1;
    }
    metrics.replayed.inc(labels, applied);
  };
  const replay = async () => {
    const from = replayFrom ?? subscriber.lastAppliedPublishedAt;
    replayFrom = undefined;
    try {
      // From shortly before it (clock skew between hosts, messages in flight); entries already
      // applied are skipped by id.
      await replaySince(Math.max(from, startedAt) - 2000);
    } catch (error) {
      replayFrom = Math.min(from, replayFrom ?? from);
      throw error;
    }
  };
  return new RecoveringPolicy({
    mode,
    silenceMs: config.SYNC_SILENCE_MS,
    jitterMs: config.SYNC_JITTER_MS,
    recover: mode === 'stream' ? replay : flush,
    onDistrust: () => {
      replayFrom ??= subscriber.lastAppliedPublishedAt;
    },
    onRecovered: (reason: RecoveryReason, ms: number) => {
      metrics.recoveries.inc({ ...labels, mode, reason });
      metrics.recoverySeconds.observe(labels, ms / 1000);
      logger.info({ mode, reason, ms }, 'sync recovered');
    },
    onRecoveryFailed: (reason: RecoveryReason, error: Error) =>
      logger.warn({ err: error, mode, reason }, 'sync recovery failed'),
  });
}
