import type { RedisTopology } from '@local-cache-sync/core';
import { type InvalidationTransport, RedisTransport } from '@local-cache-sync/core/transport';
import type { Logger } from 'pino';
import { BookRepository } from '../books/book-repository';
import { ChaosSwitch } from '../chaos/chaos-switch';
import { FaultyTransport } from '../chaos/faulty-transport';
import type { ReplicaConfig } from './config';

export interface Stores {
  repository: BookRepository;
  transport: InvalidationTransport;
  /** Only with CHAOS_ENABLED=1: the crash-after-commit hook and the transport's faults. */
  chaos?: ChaosSwitch;
  close(): Promise<void>;
}

/**
 * MongoDB, the source of truth, and the Redis bus. The safer modes close the crash-after-commit
 * window with an outbox in the book document; stream mode appends every invalidation to a log.
 */
export async function connectStores(config: ReplicaConfig, topology: RedisTopology, logger: Logger): Promise<Stores> {
  const redis = new RedisTransport({
    topology,
    channel: config.INVALIDATION_CHANNEL,
    replicaId: config.REPLICA_ID,
    log: config.SYNC_MODE === 'stream' ? { maxLen: config.STREAM_MAXLEN } : undefined,
    onError: (role, error) => logger.debug({ err: error, role }, 'redis connection error'),
  });
  const repository = await BookRepository.connect(config.MONGODB_URI, {
    outbox: config.SYNC_MODE !== 'pubsub',
    timeoutMs: config.MONGODB_TIMEOUT_MS,
  });
  if (repository.serializesWrites) {
    logger.info('the database does not apply updates atomically (FerretDB): writes of one book are serialised');
  }
  try {
    await redis.connect();
  } catch (error) {
    await repository.close();
    throw error;
  }
  // Chaos wraps the real transport; nothing above it knows.
  const faulty = config.CHAOS_ENABLED ? new FaultyTransport(redis) : undefined;
  return {
    repository,
    transport: faulty ?? redis,
    chaos: faulty ? new ChaosSwitch(faulty) : undefined,
    async close() {
      await redis.close();
      await repository.close();
    },
  };
}
