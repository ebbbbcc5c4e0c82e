import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RedisTopology, TopologyKind } from '@local-cache-sync/core';
import { Redis } from 'ioredis';
import { freePort, ServerProcess, startRedis, waitFor } from './processes';

/** The Redis servers of one topology, started on free ports, with what a replica needs to reach them. */
export interface RedisServers {
  kind: TopologyKind;
  /** The replica's environment for this topology, as the given ACL user. */
  env(user: { username: string; password: string }): Record<string, string>;
  /** The same, for a transport made in this process. */
  topology(user?: { username: string; password: string }): RedisTopology;
  /** The data node that holds `channel` now (the master; in a Cluster the master of its slot). */
  masterOf(channel: string): Promise<ServerProcess>;
  /** A plain client (default user) on a data node. */
  client(server: ServerProcess): Redis;
  /** Kills (SIGKILL) the master holding `channel`, then waits until another node serves the channel's writes. */
  killMaster(channel: string): Promise<{ killed: ServerProcess; promotedAfterMs: number }>;
  /** Starts the servers killed so far again (each rejoins as a replica of the new master). */
  restartKilled(): Promise<void>;
  processes(): ServerProcess[];
  destroy(): Promise<void>;
}

/** Short timeouts, so a failover takes seconds: detection after DOWN_AFTER_MS, then the promotion. */
export const DOWN_AFTER_MS = 1000;

// No 5 s wait before the first full sync: a replica that never synced will not take over.
const dataNode = (args: string[]) => startRedis(['--repl-diskless-sync-delay', '0', ...args]);

/** One question to one server on a connection of its own (it may be a Sentinel, or dying). */
async function ask<T>(port: number, question: (client: Redis) => Promise<T>): Promise<T> {
  const client = new Redis({ port, host: '127.0.0.1', lazyConnect: true, retryStrategy: () => null });
  client.on('error', () => undefined);
  try {
    await client.connect();
    return await question(client);
  } finally {
    client.disconnect();
  }
}

const replication = async (server: ServerProcess) => ask(server.port, async (c) => String(await c.info('replication')));
const roleOf = async (server: ServerProcess) => (await replication(server)).match(/role:(\w+)/)?.[1];
/** Every replica among `servers` has finished its sync with its master. */
const replicasInSync = async (servers: ServerProcess[]) => {
  for (const server of servers) {
    const info = await replication(server);
    if (info.includes('role:slave') && !info.includes('master_link_status:up')) return false;
  }
  return true;
};

/**
 * SIGKILLs the master `find` names, then waits until it names another node that serves as master
 * (and `settled` holds): the time from the kill to the promotion.
 */
async function killAndAwaitPromotion(
  find: () => Promise<ServerProcess>,
  message: string,
  settled: () => Promise<boolean> = async () => true,
): Promise<{ killed: ServerProcess; promotedAfterMs: number }> {
  const killed = await find();
  const at = Date.now();
  await killed.stop('SIGKILL');
  await waitFor(
    async () => {
      const now = await find();
      return now !== killed && (await roleOf(now)) === 'master' && (await settled());
    },
    { timeoutMs: 30_000, intervalMs: 50, message },
  );
  return { killed, promotedAfterMs: Date.now() - at };
}

const restartDead = async (servers: ServerProcess[]) => {
  for (const server of servers) if (!server.alive()) await server.start();
};

/** 1 master, 1 replica, 3 Sentinels (quorum 2) monitoring it as `mymaster`. */
export async function startSentinelSet(userArgs: string[] = []): Promise<RedisServers> {
  const name = 'mymaster';
  const started: ServerProcess[] = [];
  const destroy = async () => {
    for (const server of started.reverse()) await server.destroy().catch(() => undefined);
  };
  try {
    const master = await dataNode(userArgs);
    started.push(master);
    const replica = await dataNode([...userArgs, '--replicaof', '127.0.0.1', String(master.port)]);
    started.push(replica);
    const sentinels: ServerProcess[] = [];
    for (let i = 0; i < 3; i += 1) {
      const port = await freePort();
      const dir = mkdtempSync(join(tmpdir(), 'lcs-sentinel-'));
      const conf = join(dir, 'sentinel.conf');
      writeFileSync(
        conf,
        [
          `port ${port}`,
          'bind 127.0.0.1',
          `dir ${dir}`,
          `sentinel monitor ${name} 127.0.0.1 ${master.port} 2`,
          `sentinel down-after-milliseconds ${name} ${DOWN_AFTER_MS}`,
          `sentinel failover-timeout ${name} 10000`,
          `sentinel parallel-syncs ${name} 1`,
          '',
        ].join('\n'),
      );
      const sentinel = new ServerProcess(`redis-sentinel ${i + 1}`, port, dir, 'redis-server', [conf, '--sentinel']);
      await sentinel.start();
      started.push(sentinel);
      sentinels.push(sentinel);
    }
    const dataNodes = [master, replica];
    const currentMaster = async (): Promise<ServerProcess> => {
      const [, port] = (await ask(sentinels[0]!.port, (c) => c.call('SENTINEL', 'GET-MASTER-ADDR-BY-NAME', name))) as [
        string,
        string,
      ];
      const found = dataNodes.find((n) => n.port === Number(port));
      if (!found) throw new Error(`the Sentinels name an unknown master port ${port}`);
      return found;
    };
    // Every Sentinel knows the replica and its peers before any failover is asked of them.
    await waitFor(
      async () => {
        for (const sentinel of sentinels) {
          const info = (await ask(sentinel.port, (c) => c.call('SENTINEL', 'MASTER', name))) as string[];
          const field = (key: string) => Number(info[info.indexOf(key) + 1]);
          if (field('num-slaves') < 1 || field('num-other-sentinels') < 2) return false;
        }
        return (await roleOf(replica)) === 'slave' && (await replicasInSync([replica]));
      },
      { timeoutMs: 30_000, intervalMs: 200, message: 'the Sentinels see the replica and each other' },
    );
    const topology = (user?: { username: string; password: string }): RedisTopology => ({
      kind: 'sentinel',
      sentinels: sentinels.map((s) => ({ host: '127.0.0.1', port: s.port })),
      name,
      ...user,
    });
    return {
      kind: 'sentinel',
      env: (user) => ({
        REDIS_SENTINELS: sentinels.map((s) => `127.0.0.1:${s.port}`).join(','),
        REDIS_SENTINEL_NAME: name,
        REDIS_USERNAME: user.username,
        REDIS_PASSWORD: user.password,
      }),
      topology,
      masterOf: () => currentMaster(),
      client: (server) => new Redis({ port: server.port, host: '127.0.0.1' }),
      killMaster: () => killAndAwaitPromotion(currentMaster, 'the Sentinels promote the replica'),
      restartKilled: () => restartDead(dataNodes),
      processes: () => [...started],
      destroy,
    };
  } catch (error) {
    await destroy();
    throw error;
  }
}

/** 3 masters and 3 replicas, node timeout DOWN_AFTER_MS, each node with its own cluster bus port. */
export async function startRedisCluster(userArgs: string[] = []): Promise<RedisServers> {
  const nodes: ServerProcess[] = [];
  const destroy = async () => {
    for (const server of nodes.reverse()) await server.destroy().catch(() => undefined);
  };
  try {
    for (let i = 0; i < 6; i += 1) {
      nodes.push(
        await dataNode([
          ...userArgs,
          '--cluster-enabled',
          'yes',
          '--cluster-port',
          String(await freePort()),
          '--cluster-node-timeout',
          String(DOWN_AFTER_MS),
          '--cluster-config-file',
          'nodes.conf',
        ]),
      );
    }
    const create = spawnSync(
      'redis-cli',
      ['--cluster', 'create', ...nodes.map((n) => `127.0.0.1:${n.port}`), '--cluster-replicas', '1', '--cluster-yes'],
      { encoding: 'utf8', timeout: 60_000 },
    );
    if (create.status !== 0) throw new Error(`redis-cli --cluster create failed: ${create.stdout}${create.stderr}`);
    const clusterInfo = async (server: ServerProcess) => ask(server.port, async (c) => String(await c.cluster('INFO')));
    const alive = () => nodes.filter((n) => n.alive());
    const allOk = async () => {
      for (const node of alive()) if (!(await clusterInfo(node)).includes('cluster_state:ok')) return false;
      return true;
    };
    // Every node tells the same map, each slot range with its master and replica: a client that
    // read its map from a node still learning it sends to the wrong node, and ioredis' MOVED retry
    // then delivers that message after later ones (seen as a gap by every subscriber).
    const slotMap = async (server: ServerProcess) =>
      ask(server.port, async (c) => {
        const ranges = await c.cluster('SLOTS');
        return JSON.stringify(
          ranges.map(([first, last, ...servers]) => [first, last, servers.map((s) => s[1])]).sort(),
        );
      });
    const slotsAgree = async () => {
      const maps = await Promise.all(alive().map(slotMap));
      const [first] = maps;
      return (
        maps.every((m) => m === first) &&
        (JSON.parse(first!) as [number, number, number[]][]).every((r) => r[2].length === 2)
      );
    };
    await waitFor(async () => (await allOk()) && (await replicasInSync(nodes)) && (await slotsAgree()), {
      timeoutMs: 30_000,
      intervalMs: 200,
      message: 'cluster_state:ok on every node, every replica in sync, every node telling the same slot map',
    });
    const masterOf = async (channel: string): Promise<ServerProcess> => {
      const [slot, ranges] = await ask(
        alive()[0]!.port,
        async (c) => [Number(await c.cluster('KEYSLOT', channel)), await c.cluster('SLOTS')] as const,
      );
      const port = Number(ranges.find(([first, last]) => first <= slot && slot <= last)?.[2]?.[1]);
      const found = nodes.find((n) => n.port === port);
      if (!found) throw new Error(`no node owns slot ${slot}`);
      return found;
    };
    const topology = (user?: { username: string; password: string }): RedisTopology => ({
      kind: 'cluster',
      nodes: nodes.map((n) => ({ host: '127.0.0.1', port: n.port })),
      ...user,
    });
    return {
      kind: 'cluster',
      env: (user) => ({
        REDIS_CLUSTER_NODES: nodes.map((n) => `127.0.0.1:${n.port}`).join(','),
        REDIS_USERNAME: user.username,
        REDIS_PASSWORD: user.password,
      }),
      topology,
      masterOf,
      client: (server) => new Redis({ port: server.port, host: '127.0.0.1' }),
      killMaster: (channel) =>
        killAndAwaitPromotion(() => masterOf(channel), "a replica takes over the channel's slot", allOk),
      restartKilled: () => restartDead(nodes),
      processes: () => [...nodes],
      destroy,
    };
  } catch (error) {
    await destroy();
    throw error;
  }
}
