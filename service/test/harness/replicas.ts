import { createServer, type Server } from 'node:http';
import { parseSigningKeys } from '@local-cache-sync/core/wire';
import pino from 'pino';
import { uniqueName } from '../../../packages/core/test/fixtures';
import { waitFor } from '../../local-stack/processes';
import { freshSigningKeys } from '../../local-stack/signing-keys';
import type { ReplicaConfig } from '../../src/wiring/config';
import { loadConfig } from '../../src/wiring/config';
import { createReplica, type Replica } from '../../src/wiring/replica';

export interface RunningReplica extends Replica {
  id: string;
  config: ReplicaConfig;
  url: string;
  server: Server;
  stop(): Promise<void>;
}

export { uniqueName };

/** The environment of a built replica process on the test servers: its own database and channel, signing on. */
export const processEnv = (tag: string, overrides: Record<string, string> = {}): Record<string, string> => ({
  MONGODB_URI: `${process.env.MONGODB_URI}/${uniqueName('books')}`,
  REDIS_URL: process.env.REDIS_URL ?? '',
  INVALIDATION_CHANNEL: uniqueName('book-channel'),
  SYNC_SIGNING_KEYS: freshSigningKeys(tag),
  ...overrides,
});

export function testConfig(overrides: Partial<ReplicaConfig> = {}): ReplicaConfig {
  return {
    ...loadConfig({}),
    REPLICA_ID: uniqueName('replica'),
    MONGODB_URI: `${process.env.MONGODB_URI}/${uniqueName('books')}`,
    REDIS_URL: process.env.REDIS_URL ?? '',
    CACHE_TTL_SECONDS: 300,
    CACHE_MAX_KEYS: 10_000,
    INVALIDATION_CHANNEL: uniqueName('book-channel'),
    HEARTBEAT_INTERVAL_MS: 200,
    STALE_CHECK_SAMPLE_RATE: 0,
    STALE_CHECK_GRACE_MS: 25,
    MAX_BODY_BYTES: 16 * 1024,
    LOG_LEVEL: 'silent',
    SYNC_SIGNING_KEYS: parseSigningKeys(freshSigningKeys('test')),
    ...overrides,
  };
}

/** Starts one in-process replica (own cache, own Redis connections, own registry) on a free port. */
export async function startReplica(config: ReplicaConfig): Promise<RunningReplica> {
  const replica = await createReplica(config, pino({ level: 'silent' }));
  const server = createServer(replica.app.callback());
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return Object.assign(replica, {
    id: config.REPLICA_ID,
    config,
    url: `http://127.0.0.1:${port}`,
    server,
    async stop() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
      await replica.close();
    },
  });
}

/** `count` replicas sharing one database and one channel, as a deployment would. */
export async function startCluster(count: number, overrides: Partial<ReplicaConfig> = {}): Promise<RunningReplica[]> {
  const shared = testConfig(overrides);
  const replicas: RunningReplica[] = [];
  for (let i = 1; i <= count; i += 1) {
    replicas.push(await startReplica({ ...shared, REPLICA_ID: `${shared.REPLICA_ID}-${i}` }));
  }
  return replicas;
}

/** Reads one sample value from a replica's registry; histogram series by their _bucket/_sum/_count name. */
export async function metricValue(
  replica: Replica,
  name: string,
  labels: Record<string, string> = {},
): Promise<number> {
  const base = name.replace(/_(bucket|sum|count)$/, '');
  const metric = replica.metrics.registry.getSingleMetric(name) ?? replica.metrics.registry.getSingleMetric(base);
  if (!metric) throw new Error(`no metric ${name}`);
  const data = await metric.get();
  const wanted = { cache: 'book', ...labels };
  const sample = data.values.find(
    (value) =>
      ((value as { metricName?: string }).metricName ?? name) === name &&
      Object.entries(wanted).every(([key, v]) => String(value.labels[key]) === v),
  );
  return sample?.value ?? 0;
}

/**
 * Runs a write of the Book service and waits until `receivers` have each applied its two
 * messages (the book's key invalidation, and the tag invalidation of the author lists it is in),
 * so a count read afterwards is not overtaken by a message still on its way.
 */
/** What one write of the Book service publishes: its key invalidation and its tag invalidation. */
export const MESSAGES_PER_WRITE = 2;

export async function settled<T>(receivers: Replica[], write: () => Promise<T>): Promise<T> {
  const before = await Promise.all(receivers.map((r) => metricValue(r, 'cache_invalidations_received_total')));
  const result = await write();
  await waitFor(
    async () => {
      const now = await Promise.all(receivers.map((r) => metricValue(r, 'cache_invalidations_received_total')));
      return now.every((value, i) => value >= before[i]! + MESSAGES_PER_WRITE);
    },
    { message: "the write's invalidation reached every receiver" },
  );
  return result;
}

export async function http(method: string, url: string, body?: unknown, headers: Record<string, string> = {}) {
  const response = await fetch(url, {
    method,
    headers: body === undefined ? headers : { 'content-type': 'application/json', ...headers },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await response.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: response.status, headers: response.headers, text, json: json as Record<string, unknown> };
}
