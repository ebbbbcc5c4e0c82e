import type { Logger } from 'pino';
import type { Book } from '../books/book';
import type { BookRepository } from '../books/book-repository';
import { isKeyOfBook } from '../books/keys';
import { OutboxSweeper, outboxKeys } from '../books/outbox-sweeper';
import type { LocalCache } from '../cache/local-cache';
import { InvalidationPublisher } from '../sync/invalidation-publisher';
import { InvalidationSubscriber } from '../sync/invalidation-subscriber';
import { pubsubPolicy, RecoveringPolicy, type SyncPolicy } from '../sync/recovery';
import { TOPOLOGIES, type TopologyKind } from '../sync/redis-topology';
import { EnvelopeSigner } from '../sync/signing';
import { evictWrite, StreamReplay } from '../sync/stream-replay';
import type { InvalidationTransport } from '../sync/transport';
import type { Metrics } from '../telemetry/metrics';
import { publishMetricsObserver, receiveMetricsObserver, subscriberStateMetrics, syncMetrics } from './observers';
import type { ReplicaConfig } from './replica';

export const CACHE_NAME = 'book';

export interface Sync {
  subscriber: InvalidationSubscriber<Book>;
  publisher: InvalidationPublisher;
  policy: SyncPolicy;
  stop(): Promise<void>;
}

interface SyncParts {
  cache: LocalCache<Book>;
  transport: InvalidationTransport;
  repository: BookRepository;
  metrics: Metrics;
  logger: Logger;
  topology: TopologyKind;
}

/**
 * The receive side (subscriber, then the mode's policy and recovery), then the send side
 * (publisher with heartbeats, and in the safer modes the outbox sweeper), connected to metrics.
 */
export async function startSync(config: ReplicaConfig, parts: SyncParts): Promise<Sync> {
  const { cache, transport, repository, metrics, logger } = parts;
  const signer = config.SYNC_SIGNING_KEYS ? new EnvelopeSigner(config.SYNC_SIGNING_KEYS) : undefined;
  metrics.signing.set({ cache: metrics.cache }, signer ? 1 : 0);
  const { topology } = parts;
  for (const each of TOPOLOGIES)
    metrics.topology.set({ cache: metrics.cache, topology: each }, each === topology ? 1 : 0);
  if (!signer) {
    logger.warn(
      'SYNC_SIGNING_KEYS is not set: messages are not signed, and anyone who can publish on the channel can forge them',
    );
  }
  const subscriber = new InvalidationSubscriber<Book>({
    signer,
    cache,
    scope: { name: CACHE_NAME, isKeyOf: isKeyOfBook },
    channel: config.INVALIDATION_CHANNEL,
    selfOrigin: config.REPLICA_ID,
    observer: receiveMetricsObserver(metrics, logger),
  });
  const observer = syncMetrics(metrics, config.SYNC_MODE, logger);
  const policy = createPolicy(config, subscriber, parts, observer);
  subscriber.observe({ onMessage: () => policy.onMessage(), onMissed: () => policy.onGap() });
  transport.onSubscriberState(subscriberStateMetrics(metrics, logger));
  transport.onSubscriberState((state) => policy.onSubscriberState(state));
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
    appendToLog: config.SYNC_MODE === 'stream',
    signer,
    coalesce: config.SYNC_COALESCE,
    retryForMs: config.SYNC_MODE === 'pubsub' ? 0 : config.PUBLISH_RETRY_MS,
  });
  publisher.observe({ onMembership: (members) => policy.setLiveMembers(members) });
  await publisher.heartbeat();
  publisher.startHeartbeats();

  const sweeper =
    config.SYNC_MODE === 'pubsub'
      ? undefined
      : new OutboxSweeper({
          repository,
          publisher,
          logger,
          ageMs: config.OUTBOX_AGE_MS,
          intervalMs: Math.max(100, Math.floor(config.OUTBOX_AGE_MS / 3)),
          canPublish: () => transport.ready(),
          evictLocally: (keys, id, version) => evictWrite(cache, { keys, id, version }),
          onRepublished: observer.onRepublished,
        });
  sweeper?.start();

  return {
    subscriber,
    publisher,
    policy,
    async stop() {
      sweeper?.stop();
      policy.stop();
      await publisher.stop();
    },
  };
}

/** The sync mode's recovery: nothing (pubsub), clear the cache (pubsub-flush), replay the log (stream). */
function createPolicy(
  config: ReplicaConfig,
  subscriber: InvalidationSubscriber<Book>,
  { cache, transport, repository }: SyncParts,
  observer: ReturnType<typeof syncMetrics>,
): SyncPolicy {
  const mode = config.SYNC_MODE;
  if (mode === 'pubsub') return pubsubPolicy;
  cache.observe({ onFillRejected: observer.onFillRejected });
  const replay =
    mode === 'stream'
      ? new StreamReplay({
          log: transport.log(),
          subscriber,
          cache,
          unpublished: async () =>
            (await repository.pendingOutbox()).map((entry) => ({ ...entry, keys: outboxKeys(entry) })),
          onReplayed: observer.onReplayed,
          onLogTooShort: observer.onLogTooShort,
        })
      : undefined;
  return new RecoveringPolicy({
    mode,
    silenceMs: config.SYNC_SILENCE_MS,
    jitterMs: config.SYNC_JITTER_MS,
    recover: replay ? () => replay.run() : async () => void cache.flush('flush'),
    onTrustLost: () => replay?.trustLost(),
    onTrustChanged: observer.onTrustChanged,
    onRecovered: observer.onRecovered,
    onRecoveryFailed: observer.onRecoveryFailed,
  });
}
