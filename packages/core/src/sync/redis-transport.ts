import type { Cluster, Redis, RedisOptions } from 'ioredis';
import {
  type ChannelSubscription,
  reconnectDelay,
  ServerSubscription,
  ShardedSubscription,
} from './redis-subscription';
import { channelKeys, commandClient, type RedisTopology, type TopologyKind } from './redis-topology';
import type {
  InvalidationLog,
  InvalidationTransport,
  MembershipRegistry,
  SubscriberState,
  SubscriberStateListener,
} from './transport';

export interface RedisTransportOptions {
  topology: RedisTopology;
  channel: string;
  /** Names the connections in CLIENT LIST, e.g. `book-1:publisher`. */
  replicaId: string;
  commandTimeoutMs?: number;
  /** Stream mode: the capped stream every invalidation is appended to, atomically with its publish. */
  log?: { maxLen: number };
  onError?: (role: 'publisher' | 'subscriber', error: Error) => void;
}

// One script, so the append and the publish happen together or not at all. The channel is an
// argument, not a key: an ACL user holds keys (~) and channels (&) apart. In a Cluster the log's
// hash tag puts it in the channel's slot, so the script and the SPUBLISH run on the same shard.
const appendAndPublishScript = (publish: 'PUBLISH' | 'SPUBLISH') => `
redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[2], '*', 'm', ARGV[1])
return redis.call('${publish}', ARGV[3], ARGV[1])`;

type LoggingClient = (Redis | Cluster) & {
  publishAndLog(stream: string, payload: string, maxLen: number, channel: string): Promise<number>;
};

/**
 * Redis Pub/Sub over two connections: a publisher that fails fast while Redis is away (so a
 * write is never held hostage by the bus, and nothing is queued to be flushed into a failover
 * gap), and a subscriber that resubscribes on every reconnect, follows a failover to the new
 * master, and reports when it is really subscribed again and on which server. On a Cluster it
 * uses sharded Pub/Sub (SPUBLISH/SSUBSCRIBE) on the channel's slot.
 */
export class RedisTransport implements InvalidationTransport {
  private readonly publisher: Redis | Cluster;
  private readonly subscription: ChannelSubscription;
  private readonly sharded: boolean;
  private readonly stateListeners: SubscriberStateListener[] = [];
  private handler?: (payload: string) => void;
  /** The first connection error since connect() began: why it failed, if it does. */
  private firstError?: Error;
  subscriberState: SubscriberState = 'down';
  readonly topology: TopologyKind;

  constructor(private readonly options: RedisTransportOptions) {
    const { topology, replicaId } = options;
    this.topology = topology.kind;
    const common: RedisOptions = {
      lazyConnect: true,
      retryStrategy: reconnectDelay,
      commandTimeout: options.commandTimeoutMs ?? 1000,
    };
    this.sharded = topology.kind === 'cluster';
    this.publisher = commandClient(topology, {
      ...common,
      connectionName: `${replicaId}:publisher`,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
    });
    const events = {
      onMessage: (payload: string) => this.handler?.(payload),
      onState: (state: SubscriberState, node?: string) => this.setState(state, node),
      onError: (error: Error) => {
        this.firstError ??= error;
        options.onError?.('subscriber', error);
      },
    };
    const subscriberOptions = { ...common, connectionName: `${replicaId}:subscriber` };
    this.subscription =
      topology.kind === 'cluster'
        ? new ShardedSubscription(
            this.publisher as Cluster,
            options.channel,
            { ...subscriberOptions, username: topology.username, password: topology.password },
            events,
          )
        : new ServerSubscription(topology, options.channel, subscriberOptions, events);
    this.publisher.defineCommand('publishAndLog', {
      numberOfKeys: 1,
      lua: appendAndPublishScript(this.sharded ? 'SPUBLISH' : 'PUBLISH'),
    });
    this.publisher.on('error', (error: Error) => {
      this.firstError ??= error;
      options.onError?.('publisher', error);
    });
  }

  /** Connects both connections; on failure, closes both and rejects. */
  async connect(): Promise<void> {
    this.firstError = undefined;
    // Both settle before either is torn down: disconnecting one mid-handshake (TLS) leaves its
    // socket to emit an error nobody listens to any more.
    const [publisher, subscriber] = await Promise.allSettled([this.publisher.connect(), this.subscription.connect()]);
    const failed = [publisher, subscriber].find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (!failed) return;
    this.publisher.disconnect();
    this.subscription.disconnect();
    // ioredis rejects with "Connection is closed."; the error event said why (TLS, auth, refused).
    const why = this.firstError ?? (failed.reason as Error);
    throw new Error(`cannot connect to Redis: ${why.message}`, { cause: why });
  }

  async publish(payload: string): Promise<number> {
    return this.sharded
      ? Number(await (this.publisher as Cluster).spublish(this.options.channel, payload))
      : this.publisher.publish(this.options.channel, payload);
  }

  async appendAndPublish(payload: string): Promise<number> {
    const { maxLen } = this.logOptions();
    return (this.publisher as LoggingClient).publishAndLog(this.keys().log, payload, maxLen, this.options.channel);
  }

  async nextVersion(): Promise<number> {
    return this.publisher.incr(this.keys().version);
  }

  /** The invalidation log (stream mode), read with the publisher connection. */
  log(): InvalidationLog {
    this.logOptions();
    return new RedisStreamLog(this.publisher, this.keys().log);
  }

  ready(): boolean {
    return this.publisher.status === 'ready' && this.subscriberState === 'up';
  }

  async ping(): Promise<void> {
    await this.publisher.ping();
  }

  async subscribe(onMessage: (payload: string) => void): Promise<void> {
    this.handler = onMessage;
    await this.subscription.start();
  }

  onSubscriberState(listener: SubscriberStateListener): void {
    this.stateListeners.push(listener);
  }

  membership(): MembershipRegistry {
    return new RedisMembership(this.publisher, this.keys().members);
  }

  async unsubscribe(): Promise<void> {
    this.handler = undefined;
    await this.subscription.stop();
  }

  async close(): Promise<void> {
    this.handler = undefined;
    this.setState('down');
    await Promise.allSettled([this.subscription.close(), this.publisher.quit()]);
    this.subscription.disconnect();
    this.publisher.disconnect();
  }

  private keys() {
    return channelKeys(this.options.channel);
  }

  private logOptions(): { maxLen: number } {
    if (!this.options.log) throw new Error('this transport was made without an invalidation log');
    return this.options.log;
  }

  private setState(state: SubscriberState, node?: string): void {
    if (state === this.subscriberState) return;
    this.subscriberState = state;
    for (const listener of this.stateListeners) listener(state, node);
  }
}

/** How far ahead of this clock a member's heartbeat may be scored (clock skew between hosts). */
export const MEMBER_CLOCK_SKEW_MS = 5000;

/** Members in a sorted set scored by their last heartbeat (epoch ms). */
class RedisMembership implements MembershipRegistry {
  constructor(
    private readonly redis: Redis | Cluster,
    private readonly key: string,
  ) {}

  async heartbeat(member: string, nowMs: number, liveWindowMs: number): Promise<number> {
    // Anyone with write access to Redis can add entries: one scored in the future would count as
    // live forever, so such entries are dropped and never counted.
    const results = await this.redis
      .multi()
      .zadd(this.key, nowMs, member)
      .zremrangebyscore(this.key, '-inf', nowMs - 10 * liveWindowMs)
      .zremrangebyscore(this.key, `(${nowMs + MEMBER_CLOCK_SKEW_MS}`, '+inf')
      .zcount(this.key, nowMs - liveWindowMs, nowMs + MEMBER_CLOCK_SKEW_MS)
      .exec();
    return Number(results?.[3]?.[1] ?? 0);
  }

  async countLive(nowMs: number, liveWindowMs: number): Promise<number> {
    return this.redis.zcount(this.key, nowMs - liveWindowMs, nowMs + MEMBER_CLOCK_SKEW_MS);
  }

  async leave(member: string): Promise<void> {
    await this.redis.zrem(this.key, member);
  }
}

/** A capped Redis Stream of invalidation payloads, read by time (stream ids are milliseconds). */
class RedisStreamLog implements InvalidationLog {
  constructor(
    private readonly redis: Redis | Cluster,
    private readonly key: string,
  ) {}

  async readSince(sinceMs: number): Promise<{ payloads: string[]; reachesBack: boolean }> {
    const since = Math.max(0, Math.floor(sinceMs));
    let info: unknown[];
    try {
      info = (await this.redis.call('XINFO', 'STREAM', this.key)) as unknown[];
    } catch (error) {
      // No log at all: Redis restarted without persistence (or it was deleted), and whatever it
      // held is gone. Before the first write there is nothing cached to lose by flushing either.
      if (/no such key/i.test((error as Error).message)) return { payloads: [], reachesBack: false };
      throw error;
    }
    const field = (name: string) => String(info[info.indexOf(name) + 1] ?? '0');
    const idMs = (id: string) => Number(id.split('-')[0]);
    const trimmed = Number(field('entries-added')) > Number(field('length'));
    let reachesBack = true;
    if (trimmed) {
      // Entries before the first one left are gone: fine only if we need nothing before it.
      const [first] = (await this.redis.xrange(this.key, '-', '+', 'COUNT', 1)) as [string, string[]][];
      reachesBack = first ? idMs(first[0]) <= since : idMs(field('last-generated-id')) < since;
    }
    const entries = (await this.redis.xrange(this.key, `${since}-0`, '+')) as [string, string[]][];
    return { payloads: entries.map(([, fields]) => fields[fields.indexOf('m') + 1] ?? ''), reachesBack };
  }
}
