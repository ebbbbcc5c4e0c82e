import { readFileSync } from 'node:fs';
import type Koa from 'koa';
import type { Book } from '../books/book';
import type { BookRepository } from '../books/book-repository';
import { BookService } from '../books/book-service';
import { EVICTION_REASONS, LocalCache } from '../cache/local-cache';
import type { ChaosSwitch } from '../chaos/chaos-switch';
import { LagSamples } from '../http/bench-routes';
import { REJECT_REASONS } from '../sync/envelope';
import type { InvalidationPublisher } from '../sync/invalidation-publisher';
import type { SyncPolicy } from '../sync/recovery';
import type { InvalidationTransport } from '../sync/transport';
import { createLogger, type Logger } from '../telemetry/logger';
import { createMetrics, type Metrics } from '../telemetry/metrics';
import { type Config, redisTopology } from './config';
import { createHttp } from './http';
import { cacheMetricsObserver, staleMetricsObserver } from './observers';
import { connectStores } from './stores';
import { CACHE_NAME, startSync } from './sync';

export interface Replica {
  app: Koa;
  books: BookService;
  cache: LocalCache<Book>;
  metrics: Metrics;
  logger: Logger;
  transport: InvalidationTransport;
  publisher: InvalidationPublisher;
  repository: BookRepository;
  policy: SyncPolicy;
  /** With CHAOS_ENABLED=1 only: armed through the admin port (chaos/admin-server.ts). */
  chaos?: ChaosSwitch;
  /** Stops heartbeats and the sweeper, then closes Redis and MongoDB, in that order. */
  close(): Promise<void>;
}

export type ReplicaConfig = Omit<
  Config,
  | 'PORT'
  | 'HTTP_HOST'
  | 'HTTP_HEADERS_TIMEOUT_MS'
  | 'HTTP_REQUEST_TIMEOUT_MS'
  | 'SHUTDOWN_TIMEOUT_MS'
  | 'OTEL_EXPORTER_OTLP_ENDPOINT'
  | 'CHAOS_PORT'
  | 'CHAOS_HOST'
  | 'CHAOS_TOKEN'
>;

/** One replica, not listening (main.ts owns ports and signals): config → telemetry → stores → cache → sync → http. */
export async function createReplica(
  config: ReplicaConfig,
  logger = createLogger(config.REPLICA_ID, config.LOG_LEVEL),
): Promise<Replica> {
  const metrics = createMetrics(CACHE_NAME, { evictionReasons: EVICTION_REASONS, rejectReasons: REJECT_REASONS });
  // Read once (a TLS CA file among it), for the bus, the topology gauge and the bench's Redis reads.
  const redis = redisTopology(config, (path) => readFileSync(path));
  const { repository, transport, chaos, ...stores } = await connectStores(config, redis, logger);
  const cache = createCache(config, metrics);
  const sync = await startSync(config, { cache, transport, repository, metrics, logger, topology: redis.kind });
  const lagSamples = config.BENCH_ROUTES ? new LagSamples() : undefined;
  if (lagSamples) {
    sync.subscriber.observe({
      onInvalidation: ({ lagSeconds }) => lagSeconds !== undefined && lagSamples.record(lagSeconds),
    });
  }
  const books = new BookService({
    repository,
    cache,
    publisher: sync.publisher,
    logger,
    staleCheckSampleRate: config.STALE_CHECK_SAMPLE_RATE,
    staleCheckGraceMs: config.STALE_CHECK_GRACE_MS,
    stale: staleMetricsObserver(metrics),
    onOutcomeUnknown: () => metrics.outcomeUnknown.inc({ cache: CACHE_NAME }),
    afterCommit: chaos && (() => chaos.afterCommit()),
    outbox: config.SYNC_MODE !== 'pubsub',
    trusted: () => sync.policy.trusted(),
  });
  const http = createHttp(config, { books, repository, transport, metrics, logger, lagSamples, redis });

  return {
    app: http.app,
    books,
    cache,
    metrics,
    logger,
    transport,
    publisher: sync.publisher,
    repository,
    policy: sync.policy,
    chaos,
    async close() {
      await sync.stop();
      await http.close();
      await stores.close();
      cache.close();
    },
  };
}

function createCache(config: ReplicaConfig, metrics: Metrics): LocalCache<Book> {
  const cache = new LocalCache<Book>({
    ttlSeconds: config.CACHE_TTL_SECONDS,
    maxKeys: config.CACHE_MAX_KEYS,
    // The classic mode has no fences, so its read-populate race stays visible.
    fenceMs: config.SYNC_MODE === 'pubsub' ? 0 : config.FENCE_MS,
  });
  cache.observe(cacheMetricsObserver(metrics, () => cache.size));
  return cache;
}
