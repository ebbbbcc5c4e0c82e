import type Koa from 'koa';
import type { Book } from './books/book';
import { BookRepository } from './books/book-repository';
import { BookService } from './books/book-service';
import { LocalCache } from './cache/local-cache';
import { ChaosSwitch } from './chaos/chaos-switch';
import type { Config } from './config';
import { createApp } from './http/app';
import { InvalidationPublisher } from './sync/invalidation-publisher';
import { InvalidationSubscriber } from './sync/invalidation-subscriber';
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
  | 'STALE_CHECK_SAMPLE_RATE'
  | 'STALE_CHECK_GRACE_MS'
  | 'MAX_BODY_BYTES'
  | 'LOG_LEVEL'
>;

/** Wires one replica: cache, MongoDB, Redis sync, metrics and the HTTP app (not listening). */
export async function createReplica(config: ReplicaConfig, logger = createLogger(config.REPLICA_ID, config.LOG_LEVEL)): Promise<Replica> {
  const metrics = createMetrics(CACHE_NAME);
  const cache = new LocalCache<Book>({ ttlSeconds: config.CACHE_TTL_SECONDS, maxKeys: config.CACHE_MAX_KEYS });
  cache.observe(cacheMetricsObserver(metrics, () => cache.size));

  const transport = new RedisTransport({
    url: config.REDIS_URL,
    channel: config.INVALIDATION_CHANNEL,
    replicaId: config.REPLICA_ID,
    onError: (role, error) => logger.debug({ err: error, role }, 'redis connection error'),
  });
  transport.onSubscriberState(subscriberStateMetrics(metrics, logger));

  const repository = await BookRepository.connect(config.MONGODB_URI);
  try {
    await transport.connect();
  } catch (error) {
    await repository.close();
    transport.subscriber.disconnect();
    transport.publisher.disconnect();
    throw error;
  }

  const chaos = new ChaosSwitch(undefined, (ms) => transport.pauseSubscriber(ms));
  const subscriber = new InvalidationSubscriber({
    cache,
    cacheName: CACHE_NAME,
    channel: config.INVALIDATION_CHANNEL,
    selfOrigin: config.REPLICA_ID,
    observer: receiveMetricsObserver(metrics, logger),
  });
  await transport.subscribe(subscriber.handle);

  const publisher = new InvalidationPublisher({
    transport,
    membership: transport.membership(),
    channel: config.INVALIDATION_CHANNEL,
    cache: CACHE_NAME,
    origin: config.REPLICA_ID,
    heartbeatIntervalMs: config.HEARTBEAT_INTERVAL_MS,
    memberTimeoutMs: config.HEARTBEAT_INTERVAL_MS * 15,
    observer: publishMetricsObserver(metrics, logger),
    faults: chaos,
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
  });

  const app = createApp({
    replicaId: config.REPLICA_ID,
    books,
    metrics,
    logger,
    maxBodyBytes: config.MAX_BODY_BYTES,
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
    async close() {
      await publisher.stop();
      await transport.close();
      await repository.close();
      cache.close();
    },
  };
}
