import { readFileSync } from 'node:fs';
import type { SyncedCache } from '@local-cache-sync/core';
import type { InvalidationTransport } from '@local-cache-sync/core/transport';
import type Koa from 'koa';
import type { Cached } from '../books/book';
import type { BookRepository } from '../books/book-repository';
import { BookService } from '../books/book-service';
import type { ChaosSwitch } from '../chaos/chaos-switch';
import { LagSamples } from '../http/bench-routes';
import { createLogger, type Logger } from '../telemetry/logger';
import { createMetrics, type Metrics } from '../telemetry/metrics';
import { type ReplicaConfig, redisTopology } from './config';
import { createHttp } from './http';
import { connectStores } from './stores';
import { CACHE_NAME, startSync } from './sync';

export interface Replica {
  app: Koa;
  books: BookService;
  /** The synced cache of books (the library's public API). */
  cache: SyncedCache<Cached>;
  metrics: Metrics;
  logger: Logger;
  transport: InvalidationTransport;
  repository: BookRepository;
  /** With CHAOS_ENABLED=1 only: armed through the admin port (chaos/admin-server.ts). */
  chaos?: ChaosSwitch;
  /** Stops heartbeats and the sweeper, then closes Redis and MongoDB, in that order. */
  close(): Promise<void>;
}

/** One replica, not listening (main.ts owns ports and signals): config → telemetry → stores → cache → sync → http. */
export async function createReplica(
  config: ReplicaConfig,
  logger = createLogger(config.REPLICA_ID, config.LOG_LEVEL),
): Promise<Replica> {
  const metrics = createMetrics(CACHE_NAME);
  // Read once (a TLS CA file among it), for the bus and the bench's Redis reads.
  const redis = redisTopology(config, (path) => readFileSync(path));
  const { repository, transport, chaos, ...stores } = await connectStores(config, redis, logger);
  let cache: SyncedCache<Cached>;
  try {
    cache = await startSync(config, { transport, repository, metrics, logger });
  } catch (error) {
    await stores.close();
    throw error;
  }
  const lagSamples = config.BENCH_ROUTES ? new LagSamples() : undefined;
  if (lagSamples) {
    cache.observe({
      onInvalidation: ({ lagSeconds, staleWindowSeconds }) =>
        lagSeconds !== undefined && lagSamples.record(lagSeconds, staleWindowSeconds),
    });
  }
  const books = new BookService({
    repository,
    cache,
    logger,
    onOutcomeUnknown: () => metrics.outcomeUnknown.inc({ cache: CACHE_NAME }),
    afterCommit: chaos && (() => chaos.afterCommit()),
    recordAcknowledgments: config.STALE_CHECK_SAMPLE_RATE > 0,
  });
  const http = createHttp(config, { books, repository, transport, metrics, logger, lagSamples, redis });

  return {
    app: http.app,
    books,
    cache,
    metrics,
    logger,
    transport,
    repository,
    chaos,
    async close() {
      await cache.close();
      await http.close();
      await stores.close();
    },
  };
}
