import { Redis } from 'ioredis';
import { TcpProxy } from '../../src/chaos/tcp-proxy';
import { type Probe, startProbe } from '../../src/probe/probe';
import { type ReplicaProcess, spawnReplica } from './replica-process';
import { uniqueName } from './replicas';
import { freePort, type ServerProcess, startRedis, waitFor } from './servers';

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

export interface FaultReplica {
  id: string;
  url: string;
  adminUrl: string;
  port: number;
  proxy: TcpProxy;
  process: ReplicaProcess;
  metric(name: string, labels?: Record<string, string>): Promise<number>;
  alive(): boolean;
}

export interface FaultCluster {
  redis: ServerProcess & { url: string };
  /** A plain client on Redis itself (not through any proxy). */
  admin: Redis;
  channel: string;
  replicas: FaultReplica[];
  probe: Probe;
  /** Starts replica i again on its old port (after a kill or a crash). */
  restart(i: number): Promise<void>;
  stop(): Promise<void>;
}

export interface FaultClusterOptions {
  ttlSeconds: number;
  redisArgs?: string[];
  /** Replicas (by index) that take the probe's writes; default all. */
  writers?: number[];
  probeRate?: number;
  seed: number;
}

/**
 * Three replica processes, each reaching its own redis-server through a cuttable TCP proxy, with
 * chaos on, every cache hit stale-checked, and the probe running traffic against all three.
 */
export async function startFaultCluster(options: FaultClusterOptions): Promise<FaultCluster> {
  const redis = await startRedis(options.redisArgs);
  const admin = new Redis(redis.url);
  const channel = uniqueName('book-channel');
  const database = uniqueName('books');
  const replicas: FaultReplica[] = [];

  const launch = async (id: string, port: number, adminPort: number, proxy: TcpProxy) =>
    spawnReplica(id, {
      PORT: String(port),
      MONGODB_URI: `${process.env.MONGODB_URI}/${database}`,
      REDIS_URL: `redis://127.0.0.1:${proxy.port}`,
      INVALIDATION_CHANNEL: channel,
      CACHE_TTL_SECONDS: String(options.ttlSeconds),
      HEARTBEAT_INTERVAL_MS: '250',
      STALE_CHECK_SAMPLE_RATE: '1',
      CHAOS_ENABLED: '1',
      CHAOS_PORT: String(adminPort),
      LOG_LEVEL: 'warn',
    });

  for (let i = 1; i <= 3; i += 1) {
    const proxy = new TcpProxy('127.0.0.1', redis.port);
    await proxy.listen();
    const [port, adminPort] = [await freePort(), await freePort()];
    const id = `book-${i}`;
    const replica: FaultReplica = {
      id,
      port,
      url: `http://127.0.0.1:${port}`,
      adminUrl: `http://127.0.0.1:${adminPort}`,
      proxy,
      process: await launch(id, port, adminPort, proxy),
      async metric(name, labels = {}) {
        return sampleSum(await (await fetch(`${replica.url}/metrics`)).text(), name, labels);
      },
      alive: () => replica.process.child.exitCode === null && replica.process.child.signalCode === null,
    };
    replicas.push(replica);
  }
  await waitFor(async () => (await replicas[0]!.metric('cache_invalidation_members')) === 3, { message: 'three members' });

  const probe = await startProbe({
    targets: replicas.map((r) => r.url),
    writeTargets: (options.writers ?? [0, 1, 2]).map((i) => replicas[i]!.url),
    rate: options.probeRate ?? 150,
    duration: 0,
    readRatio: 0.8,
    keys: 20,
    popularity: 'uniform',
    seed: options.seed,
    requestTimeoutMs: 1500,
  });

  return {
    redis,
    admin,
    channel,
    replicas,
    probe,
    async restart(i) {
      const replica = replicas[i]!;
      const adminPort = Number(new URL(replica.adminUrl).port);
      replica.process = await launch(replica.id, replica.port, adminPort, replica.proxy);
    },
    async stop() {
      probe.stop();
      await probe.done;
      await Promise.all(replicas.map((r) => r.process.stop('SIGKILL')));
      await Promise.all(replicas.map((r) => r.proxy.close()));
      admin.disconnect();
      await redis.destroy();
    },
  };
}
