import type { RedisTopology } from '@local-cache-sync/core';
import { commandClient, type InvalidationTransport } from '@local-cache-sync/core/transport';
import type Koa from 'koa';
import type { Logger } from 'pino';
import type { BookRepository } from '../books/book-repository';
import type { BookService } from '../books/book-service';
import { createApp } from '../http/app';
import { benchRoutes, type LagSamples } from '../http/bench-routes';
import { type Metrics, renderMetrics } from '../telemetry/metrics';
import { tracedRequests } from '../telemetry/sampling';
import type { ReplicaConfig } from './config';
import { requestMetricsObserver } from './observers';

interface HttpParts {
  books: BookService;
  repository: BookRepository;
  transport: InvalidationTransport;
  metrics: Metrics;
  logger: Logger;
  /** BENCH_ROUTES=1 only. */
  lagSamples?: LagSamples;
  /** Where the bench's global-cache reads go (BENCH_ROUTES=1 only). */
  redis: RedisTopology;
}

/** The Koa app (not listening): book and ops routes; ready when MongoDB, Redis and the subscriber are. */
export function createHttp(config: ReplicaConfig, parts: HttpParts): { app: Koa; close(): Promise<void> } {
  const { books, repository, transport, metrics, logger, lagSamples, redis } = parts;
  // The bench's "global cache" read path gets a Redis connection of its own.
  const globalCache = lagSamples ? commandClient(redis, { lazyConnect: true }) : undefined;
  const app = createApp({
    replicaId: config.REPLICA_ID,
    books,
    logger,
    metrics: (accept) => renderMetrics(metrics.registry, accept),
    onRequest: requestMetricsObserver(metrics),
    traced: tracedRequests(),
    maxBodyBytes: config.MAX_BODY_BYTES,
    extraRoutes:
      globalCache && lagSamples
        ? benchRoutes(
            repository,
            { get: (key) => globalCache.get(key), set: (key, value, ttl) => globalCache.set(key, value, 'EX', ttl) },
            lagSamples,
          )
        : undefined,
    readiness: [
      { name: 'mongodb', check: () => repository.ping() },
      { name: 'redis', check: () => transport.ping() },
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
    async close() {
      globalCache?.disconnect();
    },
  };
}
