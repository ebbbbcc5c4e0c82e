import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { SyncMode, TopologyKind } from '@local-cache-sync/core';
import { Redis } from 'ioredis';
import type { HistoryEvent } from '../src/probe/history';
import { type Probe, startProbe } from '../src/probe/probe';
import { cachedBinary, freePort, type ServerProcess, startMongo, startRedis, waitFor } from './processes';
import { localConfig, type Prometheus, startPrometheus } from './prometheus';
import { REPLICA_USER, replicaUserArgs } from './redis-acl';
import { type RedisServers, startRedisCluster, startSentinelSet } from './redis-topologies';
import { type ReplicaProcess, spawnReplica } from './replica-process';
import { freshSigningKeys } from './signing-keys';
import { type ToxicProxy, Toxiproxy } from './toxiproxy';

/** Sums the samples of `name` (classic text exposition) whose labels include `labels`. */
export function sampleSum(exposition: string, name: string, labels: Record<string, string> = {}): number {
  let sum = 0;
  for (const line of exposition.split('\n')) {
    const match = /^([a-zA-Z_:][\w:]*)(\{[^}]*\})? (\S+)$/.exec(line);
    if (!match || match[1] !== name) continue;
    const have = Object.fromEntries([...(match[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1], m[2]]));
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) sum += Number(match[3]);
  }
  return sum;
}

/** Scrapes a replica's /metrics and sums one metric's samples (see sampleSum). */
export async function scrapeMetric(
  baseUrl: string,
  name: string,
  labels: Record<string, string> = {},
): Promise<number> {
  return sampleSum(await (await fetch(`${baseUrl}/metrics`)).text(), name, labels);
}

/** docker-compose.yml's `--client-output-buffer-limit pubsub` value: a paused subscriber is cut within seconds. */
export const COMPOSE_PUBSUB_LIMIT = '256kb 64kb 5';

const uniqueName = (prefix: string) => `${prefix}-${randomBytes(4).toString('hex')}`;

export interface StackReplica {
  id: string;
  url: string;
  adminUrl: string;
  port: number;
  /** Between the replica and Redis (standalone only, a Toxiproxy proxy): the `cut` fault. */
  proxy?: ToxicProxy;
  /** Between the replica and MongoDB (with `databaseProxy`): the `db-down` fault. */
  dbProxy?: ToxicProxy;
  process: ReplicaProcess;
  metric(name: string, labels?: Record<string, string>): Promise<number>;
  /** Calls the chaos admin API (`/chaos/<action>`), with the stack's token. */
  chaos(action: string): Promise<Response>;
  alive(): boolean;
}

/** How long the stack's probe waits for an answer. */
const PROBE_TIMEOUT_MS = 1500;

export interface Stack {
  /** Standalone: the one Redis. Sentinel or Cluster: the node that held the channel at start. */
  redis: ServerProcess & { url: string };
  readonly topology: TopologyKind;
  /** Sentinel or Cluster: every server of the topology, and the master kill (the `failover` fault). */
  servers?: RedisServers;
  /** The MongoDB-wire server the stack started (none when given a MONGODB_URI). */
  mongo?: ServerProcess & { uri: string; kind: string };
  prometheus?: Prometheus;
  /** The probe's /metrics, for Prometheus. */
  probeMetricsUrl?: string;
  /** The replicas' database. */
  databaseUri: string;
  readonly syncMode: SyncMode;
  /** A plain client on Redis itself (not through any proxy). */
  admin: Redis;
  channel: string;
  /** The replicas' SYNC_SIGNING_KEYS, fresh for this stack. */
  signingKeys: string;
  replicas: StackReplica[];
  probe: Probe;
  /** Redis' Pub/Sub output-buffer limit when the stack set one (`hard soft seconds`). */
  pubsubBufferLimit?: string;
  /** Starts replica i again on its old port (after a kill or a crash). */
  restart(i: number): Promise<void>;
  /** Restarts every replica, one at a time, in another sync mode. */
  setMode(mode: SyncMode): Promise<void>;
  /** Every process and temporary folder the stack started, to prove they are gone after stop(). */
  resources(): { pids: number[]; dirs: string[] };
  stop(): Promise<void>;
}

/** A metric summed over the stack's replicas (every one must answer). */
export async function sumMetric(c: Stack, name: string, labels?: Record<string, string>): Promise<number> {
  return (await Promise.all(c.replicas.map((r) => r.metric(name, labels)))).reduce((a, b) => a + b, 0);
}

export interface StackOptions {
  ttlSeconds: number;
  replicas?: number;
  /** An existing MongoDB-wire server; by default the stack starts its own. */
  mongoUri?: string;
  /** Start prometheus (if installed) scraping the replicas and the probe. */
  prometheus?: boolean;
  heartbeatMs?: number;
  logLevel?: string;
  syncMode?: SyncMode;
  /** Standalone (default; each replica behind a Toxiproxy proxy), or a Sentinel set or a 6-node Cluster. */
  topology?: TopologyKind;
  redisArgs?: string[];
  /** Redis' Pub/Sub output-buffer limit, `hard soft seconds` (the demo uses the compose file's, COMPOSE_PUBSUB_LIMIT). */
  pubsubBufferLimit?: string;
  /** Replicas (by index) that take the probe's writes; default all. */
  writers?: number[];
  probeRate?: number;
  /** The share of the probe's operations that are reads (default 0.8). */
  probeReadRatio?: number;
  probeKeys?: number;
  /** The probe appends every read and write here (see checkHistory). */
  history?: HistoryEvent[];
  /**
   * Each replica reaches MongoDB through its own Toxiproxy proxy (the `db-down` fault), and keeps
   * expired books for an hour to answer when it cannot (fail-safe, CACHE_GRACE_SECONDS), within
   * 1 s (CACHE_HARD_TIMEOUT_MS).
   */
  databaseProxy?: boolean;
  seed: number;
}

/**
 * The whole system on local binaries: its own redis-server, a MongoDB-wire server, replica
 * processes (three by default) each reaching Redis through its own Toxiproxy proxy, with chaos on and
 * every cache hit stale-checked, the probe running traffic against all of them, and Prometheus if
 * installed. Used by `make demo` and by the fault tests.
 */
export async function startStack(options: StackOptions): Promise<Stack> {
  const cleanups: (() => Promise<unknown>)[] = [];
  const stopAll = async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => undefined);
  };
  try {
    return await build(options, cleanups, stopAll);
  } catch (error) {
    await stopAll();
    throw error;
  }
}

async function build(
  options: StackOptions,
  cleanups: (() => Promise<unknown>)[],
  stopAll: () => Promise<void>,
): Promise<Stack> {
  // Replicas connect as the least-privilege user docs/security.md gives (defined on the command
  // line, so it survives a Redis restart); the stack's own admin client is the default user.
  const channel = uniqueName('book-channel');
  const redisPassword = randomBytes(18).toString('base64url');
  const topology = options.topology ?? 'standalone';
  const limitArgs = options.pubsubBufferLimit
    ? ['--client-output-buffer-limit', `pubsub ${options.pubsubBufferLimit}`]
    : [];
  const userArgs = [...(options.redisArgs ?? []), ...limitArgs, ...replicaUserArgs(channel, redisPassword)];
  let servers: RedisServers | undefined;
  let redis: ServerProcess & { url: string };
  if (topology === 'standalone') {
    redis = await startRedis(userArgs);
    cleanups.push(() => redis.destroy());
  } else {
    const started = topology === 'sentinel' ? await startSentinelSet(userArgs) : await startRedisCluster(userArgs);
    servers = started;
    cleanups.push(() => started.destroy());
    const master = await started.masterOf(channel);
    redis = Object.assign(master, { url: `redis://127.0.0.1:${master.port}` });
  }
  const mongo = options.mongoUri ? undefined : await startMongo();
  if (mongo) cleanups.push(() => mongo.destroy());
  const mongoUri = options.mongoUri ?? mongo!.uri;
  const admin = new Redis(redis.url);
  admin.on('error', () => undefined); // it reconnects by itself when Redis restarts
  cleanups.push(async () => admin.disconnect());
  const database = uniqueName('books');
  const replicas: StackReplica[] = [];
  const count = options.replicas ?? 3;
  let syncMode: SyncMode = options.syncMode ?? 'pubsub';
  const signingKeys = freshSigningKeys();
  const chaosToken = randomBytes(24).toString('base64url');

  const redisEnv = (proxy?: ToxicProxy): Record<string, string> =>
    servers
      ? servers.env({ username: REPLICA_USER, password: redisPassword })
      : { REDIS_URL: `redis://${REPLICA_USER}:${redisPassword}@127.0.0.1:${proxy!.port}` };
  const launch = async (id: string, port: number, adminPort: number, proxy?: ToxicProxy, dbProxy?: ToxicProxy) =>
    spawnReplica(id, {
      PORT: String(port),
      MONGODB_URI: dbProxy ? `mongodb://127.0.0.1:${dbProxy.port}/${database}` : `${mongoUri}/${database}`,
      // A load waits at most 1 s (under the probe's 1.5 s timeout): cut off, the driver retries a
      // query for up to MONGODB_TIMEOUT_MS.
      ...(options.databaseProxy && {
        CACHE_GRACE_SECONDS: String(Math.max(3600, options.ttlSeconds)),
        CACHE_HARD_TIMEOUT_MS: '1000',
      }),
      ...redisEnv(proxy),
      INVALIDATION_CHANNEL: channel,
      CACHE_TTL_SECONDS: String(options.ttlSeconds),
      HEARTBEAT_INTERVAL_MS: String(options.heartbeatMs ?? 250),
      STALE_CHECK_SAMPLE_RATE: '1',
      // Every process here shares one clock, so no grace for clock skew is needed; with one, a
      // read served just after a write's acknowledgment escapes the check while the probe counts it.
      STALE_CHECK_GRACE_MS: '0',
      // The probe gives up on a request after PROBE_TIMEOUT_MS: a write not acknowledged by then
      // may have been read by anyone since, as the client's history counts it.
      STALE_CHECK_ACK_WAIT_MS: String(PROBE_TIMEOUT_MS),
      CHAOS_ENABLED: '1',
      CHAOS_PORT: String(adminPort),
      CHAOS_TOKEN: chaosToken,
      LOG_LEVEL: options.logLevel ?? 'warn',
      SYNC_MODE: syncMode,
      SYNC_SIGNING_KEYS: signingKeys,
    });

  const toxiproxy = servers && !options.databaseProxy ? undefined : await Toxiproxy.start();
  if (toxiproxy) cleanups.push(() => toxiproxy.destroy());
  const mongoPort = databasePort(mongoUri, options.databaseProxy);
  for (let i = 1; i <= count; i += 1) {
    const id = `book-${i}`;
    const proxy = servers ? undefined : await toxiproxy?.proxy(`redis-for-${id}`, redis.port);
    const dbProxy = mongoPort === undefined ? undefined : await toxiproxy!.proxy(`mongo-for-${id}`, mongoPort);
    const [port, adminPort] = [await freePort(), await freePort()];
    const replica: StackReplica = {
      id,
      port,
      url: `http://127.0.0.1:${port}`,
      adminUrl: `http://127.0.0.1:${adminPort}`,
      proxy,
      dbProxy,
      process: await launch(id, port, adminPort, proxy, dbProxy),
      async metric(name, labels = {}) {
        return scrapeMetric(replica.url, name, labels);
      },
      chaos: (action) =>
        fetch(`${replica.adminUrl}/chaos/${action}`, {
          method: 'POST',
          headers: { authorization: `Bearer ${chaosToken}`, 'content-type': 'application/json' },
        }),
      alive: () => replica.process.child.exitCode === null && replica.process.child.signalCode === null,
    };
    cleanups.push(async () => {
      // A paused replica ignores SIGKILL's delivery until continued; continue it first.
      if (replica.alive()) replica.process.child.kill('SIGCONT');
      await replica.process.stop('SIGKILL');
    });
    replicas.push(replica);
  }
  await waitFor(async () => (await replicas[0]!.metric('cache_invalidation_members')) === count, {
    message: `${count} members`,
  });

  const probe = await startProbe({
    targets: replicas.map((r) => r.url),
    writeTargets: (options.writers ?? replicas.map((_, i) => i)).map((i) => replicas[i]!.url),
    rate: options.probeRate ?? 150,
    duration: 0,
    readRatio: options.probeReadRatio ?? 0.8,
    keys: options.probeKeys ?? 20,
    popularity: 'uniform',
    seed: options.seed,
    requestTimeoutMs: PROBE_TIMEOUT_MS,
    history: options.history,
  });
  cleanups.push(async () => {
    probe.stop();
    await probe.done;
  });

  let prometheus: Prometheus | undefined;
  let probeMetricsUrl: string | undefined;
  if (options.prometheus && existsSync(cachedBinary('prometheus'))) {
    const server = createServer(async (_req, res) => {
      res.writeHead(200, { 'content-type': probe.metrics.registry.contentType });
      res.end(await probe.metrics.registry.metrics());
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => new Promise((resolve) => server.close(resolve)));
    const probeAddress = `127.0.0.1:${(server.address() as AddressInfo).port}`;
    probeMetricsUrl = `http://${probeAddress}/metrics`;
    const config = localConfig(
      replicas.map((r) => ({ replica: r.id, address: `127.0.0.1:${r.port}` })),
      probeAddress,
      1,
    );
    const started = await startPrometheus(config);
    cleanups.push(() => started.destroy());
    prometheus = started;
  }

  const restart = async (i: number) => {
    const replica = replicas[i]!;
    const adminPort = Number(new URL(replica.adminUrl).port);
    replica.process = await launch(replica.id, replica.port, adminPort, replica.proxy, replica.dbProxy);
  };

  return {
    redis,
    topology,
    servers,
    mongo,
    prometheus,
    probeMetricsUrl,
    databaseUri: `${mongoUri}/${database}`,
    get syncMode() {
      return syncMode;
    },
    admin,
    channel,
    signingKeys,
    replicas,
    probe,
    pubsubBufferLimit: options.pubsubBufferLimit,
    resources() {
      const owned = [...(servers?.processes() ?? [redis]), mongo, prometheus].filter((x) => x !== undefined);
      return {
        pids: [...owned.map((x) => x.pid), ...replicas.map((r) => r.process.child.pid)].filter(
          (pid) => pid !== undefined,
        ),
        dirs: owned.map((x) => x.dataDir),
      };
    },
    restart,
    async setMode(mode) {
      syncMode = mode;
      for (const [i, replica] of replicas.entries()) {
        if (replica.alive()) await replica.process.stop('SIGTERM');
        await restart(i);
      }
    },
    stop: stopAll,
  };
}

/** The loopback port of a `mongodb://` URI to put a proxy in front of, when asked; a clear error for any other. */
function databasePort(uri: string, wanted: boolean | undefined): number | undefined {
  if (!wanted) return undefined;
  const url = new URL(uri);
  if (url.protocol !== 'mongodb:' || !['127.0.0.1', 'localhost'].includes(url.hostname) || !url.port) {
    throw new Error(`databaseProxy needs a mongodb://127.0.0.1:<port> server, not ${url.protocol}//${url.hostname}`);
  }
  return Number(url.port);
}
