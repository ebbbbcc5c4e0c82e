import { createSyncedCache, type InvalidationTransport, type SyncedCache } from '@local-cache-sync/core';
import type { Book } from '../books/book';
import { bookOutbox, bookWrittenAfter } from '../books/book-outbox';
import type { BookRepository } from '../books/book-repository';
import { idKey, isKeyOfBook } from '../books/keys';
import type { Logger } from '../telemetry/logger';
import type { Metrics } from '../telemetry/metrics';
import { syncLogObserver } from './observers';
import type { ReplicaConfig } from './replica';

export const CACHE_NAME = 'book';

interface SyncParts {
  transport: InvalidationTransport;
  repository: BookRepository;
  metrics: Metrics;
  logger: Logger;
}

/** The synced cache of books on the library's public API, its metrics and logs connected from the start. */
export function startSync(config: ReplicaConfig, parts: SyncParts): Promise<SyncedCache<Book>> {
  const { transport, repository, metrics, logger } = parts;
  const safer = config.SYNC_MODE !== 'pubsub';
  return createSyncedCache<Book>({
    name: CACHE_NAME,
    replicaId: config.REPLICA_ID,
    transport,
    channel: config.INVALIDATION_CHANNEL,
    mode: config.SYNC_MODE,
    signingKeys: config.SYNC_SIGNING_KEYS,
    ttlSeconds: config.CACHE_TTL_SECONDS,
    maxKeys: config.CACHE_MAX_KEYS,
    heartbeatIntervalMs: config.HEARTBEAT_INTERVAL_MS,
    silenceMs: config.SYNC_SILENCE_MS,
    jitterMs: config.SYNC_JITTER_MS,
    fenceMs: config.FENCE_MS,
    publishRetryMs: config.PUBLISH_RETRY_MS,
    coalescePublishes: config.SYNC_COALESCE,
    coalesceLoads: config.CACHE_COALESCE_LOADS,
    isKeyOf: isKeyOfBook,
    primaryKey: idKey,
    outbox: safer ? bookOutbox(repository) : undefined,
    outboxAgeMs: config.OUTBOX_AGE_MS,
    staleAudit: {
      writtenAfter: bookWrittenAfter(repository),
      sampleRate: config.STALE_CHECK_SAMPLE_RATE,
      graceMs: config.STALE_CHECK_GRACE_MS,
    },
    observers: [metrics.synced.observer, syncLogObserver(logger)],
  });
}
