import { createSyncedCache, type SyncedCache } from '@local-cache-sync/core';
import type { InvalidationTransport } from '@local-cache-sync/core/transport';
import type { Cached } from '../books/book';
import { bookAcknowledgedAfter, bookOutbox, bookWrittenAfter } from '../books/book-outbox';
import type { BookRepository } from '../books/book-repository';
import { idKey, isBookTag, isKeyOfBook } from '../books/keys';
import type { Logger } from '../telemetry/logger';
import type { Metrics } from '../telemetry/metrics';
import type { ReplicaConfig } from './config';
import { syncLogObserver } from './observers';

export const CACHE_NAME = 'book';

interface SyncParts {
  transport: InvalidationTransport;
  repository: BookRepository;
  metrics: Metrics;
  logger: Logger;
}

/** The synced cache of books on the library's public API, its metrics and logs connected from the start. */
export function startSync(config: ReplicaConfig, parts: SyncParts): Promise<SyncedCache<Cached>> {
  const { transport, repository, metrics, logger } = parts;
  const safer = config.SYNC_MODE !== 'pubsub';
  return createSyncedCache<Cached>({
    name: CACHE_NAME,
    replicaId: config.REPLICA_ID,
    bus: { transport, channel: config.INVALIDATION_CHANNEL, heartbeatIntervalMs: config.HEARTBEAT_INTERVAL_MS },
    sync: {
      mode: config.SYNC_MODE,
      coalescePublishes: config.SYNC_COALESCE,
      isKeyOf: isKeyOfBook,
      isTag: isBookTag,
      // The recovery settings act only in the safer modes, where the library accepts them.
      ...(safer && {
        silenceMs: config.SYNC_SILENCE_MS,
        jitterMs: config.SYNC_JITTER_MS,
        fenceMs: config.FENCE_MS,
        publishRetryMs: config.PUBLISH_RETRY_MS,
      }),
    },
    cache: { ttlSeconds: config.CACHE_TTL_SECONDS, maxKeys: config.CACHE_MAX_KEYS },
    loads: {
      coalesce: config.CACHE_COALESCE_LOADS,
      ...(config.CACHE_SOFT_TIMEOUT_MS > 0 && { softTimeoutMs: config.CACHE_SOFT_TIMEOUT_MS }),
      ...(config.CACHE_HARD_TIMEOUT_MS > 0 && { hardTimeoutMs: config.CACHE_HARD_TIMEOUT_MS }),
    },
    failSafe: config.CACHE_GRACE_SECONDS > 0 ? { graceSeconds: config.CACHE_GRACE_SECONDS } : undefined,
    outbox: safer ? { store: bookOutbox(repository), ageMs: config.OUTBOX_AGE_MS } : undefined,
    audit: {
      writtenAfter: bookWrittenAfter(repository),
      acknowledgedAfter: bookAcknowledgedAfter(repository, config.STALE_CHECK_ACK_WAIT_MS),
      sampleRate: config.STALE_CHECK_SAMPLE_RATE,
      graceMs: config.STALE_CHECK_GRACE_MS,
      primaryKey: idKey,
    },
    signing: config.SYNC_SIGNING_KEYS?.length ? { keys: config.SYNC_SIGNING_KEYS } : undefined,
    observers: [metrics.synced.observer, syncLogObserver(logger)],
  });
}
