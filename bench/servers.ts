import { randomBytes } from 'node:crypto';
import { startMongo, startRedis } from '../service/local-stack/processes';
import { type ReplicaProcess, spawnReplica } from '../service/local-stack/replica-process';
import { freshSigningKeys } from '../service/local-stack/signing-keys';
import type { BookInput } from '../service/src/books/book';

/** The real servers a bench runs against: its own redis-server and MongoDB-wire server (or the env's). */
export interface BenchServers {
  redisUrl: string;
  mongoKind: string;
  /** This run's database. */
  mongoUri: string;
  /** The channel every replica of this run uses. */
  channel: string;
  /** This run's SYNC_SIGNING_KEYS (replicas sign unless started with it empty). */
  signingKeys: string;
  /** Starts a replica process (built code, dist/) on this run's database and channel. */
  replica(id: string, env?: Record<string, string>, nodeArgs?: string[]): Promise<ReplicaProcess>;
  stop(): Promise<void>;
}

export async function startBenchServers(): Promise<BenchServers> {
  const stops: (() => Promise<void>)[] = [];
  let redisUrl = process.env.REDIS_URL;
  let mongoUri = process.env.MONGODB_URI;
  let mongoKind = process.env.MONGO_WIRE_SERVER ?? 'MongoDB';
  try {
    if (!redisUrl) {
      const redis = await startRedis();
      stops.push(() => redis.destroy());
      redisUrl = redis.url;
    }
    if (!mongoUri) {
      const mongo = await startMongo();
      stops.push(() => mongo.destroy());
      mongoUri = mongo.uri;
      mongoKind = mongo.kind;
    }
  } catch (error) {
    for (const stop of stops.reverse()) await stop();
    throw error;
  }
  const suffix = randomBytes(4).toString('hex');
  const channel = `bench-channel-${suffix}`;
  const replicas = new Set<ReplicaProcess>();
  const signingKeys = freshSigningKeys('bench');
  return {
    redisUrl,
    mongoKind,
    mongoUri: `${mongoUri}/bench-${suffix}`,
    channel,
    signingKeys,
    async replica(id, env = {}, nodeArgs = []) {
      const replica = await spawnReplica(
        id,
        {
          MONGODB_URI: `${mongoUri}/bench-${suffix}`,
          REDIS_URL: redisUrl!,
          INVALIDATION_CHANNEL: channel,
          LOG_LEVEL: 'warn',
          SYNC_MODE: 'pubsub',
          SYNC_SIGNING_KEYS: signingKeys,
          ...env,
        },
        nodeArgs,
      );
      replicas.add(replica);
      const stop = replica.stop.bind(replica);
      replica.stop = async (signal) => {
        replicas.delete(replica);
        return stop(signal);
      };
      return replica;
    },
    async stop() {
      await Promise.all([...replicas].map((r) => r.stop()));
      for (const stop of stops.reverse()) await stop();
    },
  };
}

/** Creates a book through a replica's API; throws unless it answers 201. */
export async function postBook(baseUrl: string, input: BookInput): Promise<{ id: string; version: number }> {
  const response = await fetch(`${baseUrl}/books`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(input),
  });
  if (response.status !== 201) throw new Error(`book not created: ${response.status} ${await response.text()}`);
  return (await response.json()) as { id: string; version: number };
}

export const ratio = (value: number, base: number) => (base > 0 ? value / base : 0);
