import { Cluster, type ClusterOptions, Redis, type RedisOptions } from 'ioredis';

export interface RedisNode {
  host: string;
  port: number;
}

/** Where the bus lives: one server, a Sentinel-managed master, or a Cluster (sharded Pub/Sub). */
export type RedisTopology =
  | { kind: 'standalone'; url: string; tlsCa?: Buffer }
  | {
      kind: 'sentinel';
      sentinels: RedisNode[];
      name: string;
      sentinelPassword?: string;
      username?: string;
      password?: string;
    }
  | { kind: 'cluster'; nodes: RedisNode[]; username?: string; password?: string };

export type TopologyKind = RedisTopology['kind'];
export const TOPOLOGIES: readonly TopologyKind[] = ['standalone', 'sentinel', 'cluster'];

/**
 * The keys a mode uses, hash-tagged on the channel's name so that in a Cluster they live in the
 * channel's own slot: the stream append and the SPUBLISH then run in one script on one shard.
 */
export const channelKeys = (channel: string) => ({
  log: `{${channel}}:log`,
  members: `{${channel}}:members`,
  version: `{${channel}}:version`,
});

/** A command connection (publisher, registry, log) for the topology; lazy, so connect() says why it fails. */
export function commandClient(topology: RedisTopology, options: RedisOptions): Redis | Cluster {
  switch (topology.kind) {
    case 'standalone':
      return new Redis(topology.url, { ...options, ...(topology.tlsCa ? { tls: { ca: topology.tlsCa } } : {}) });
    case 'sentinel':
      return new Redis({ ...options, ...sentinelOptions(topology) });
    case 'cluster': {
      const clusterOptions: ClusterOptions = {
        lazyConnect: true,
        enableOfflineQueue: options.enableOfflineQueue ?? true,
        clusterRetryStrategy: (attempt) => options.retryStrategy?.(attempt) ?? 1000,
        redisOptions: { ...options, username: topology.username, password: topology.password },
      };
      return new Cluster(topology.nodes, clusterOptions);
    }
  }
}

/** A plain connection to one server of the topology (standalone or the Sentinel's current master). */
export function serverClient(topology: Exclude<RedisTopology, { kind: 'cluster' }>, options: RedisOptions): Redis {
  return commandClient(topology, options) as Redis;
}

function sentinelOptions(topology: Extract<RedisTopology, { kind: 'sentinel' }>): RedisOptions {
  return {
    sentinels: topology.sentinels,
    name: topology.name,
    sentinelPassword: topology.sentinelPassword,
    username: topology.username,
    password: topology.password,
    // Ask the Sentinels again on every reconnect, so a failover is followed, not retried against the dead master.
    sentinelRetryStrategy: (attempt) => Math.min(100 * attempt, 1000),
  };
}

/** `host:port` of the server a connection is talking to, as the socket sees it. */
export function remoteNode(client: Redis): string | undefined {
  const socket = client.stream as { remoteAddress?: string; remotePort?: number } | undefined;
  return socket?.remoteAddress ? `${socket.remoteAddress}:${socket.remotePort}` : undefined;
}
