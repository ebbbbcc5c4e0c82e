import { Redis, type RedisOptions } from 'ioredis';
import type { InvalidationLog, InvalidationTransport, MembershipRegistry, SubscriberState } from './transport';

export interface RedisTransportOptions {
  url: string;
  channel: string;
  /** Names the connections in CLIENT LIST, e.g. `book-1:publisher`. */
  replicaId: string;
  commandTimeoutMs?: number;
  /** Stream mode: the capped stream every invalidation is appended to, atomically with its PUBLISH. */
  log?: { key: string; maxLen: number };
  onError?: (role: 'publisher' | 'subscriber', error: Error) => void;
  /** With a rediss:// URL: the CA that signed the server's certificate (the system's CAs otherwise). */
  tlsCa?: Buffer;
}

// One script, so the append and the publish happen together or not at all. The channel is an
// argument, not a key: an ACL user holds keys (~) and channels (&) apart.
const PUBLISH_AND_LOG = `
redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[2], '*', 'm', ARGV[1])
return redis.call('PUBLISH', ARGV[3], ARGV[1])`;

type LoggingRedis = Redis & {
  publishAndLog(stream: string, payload: string, maxLen: number, channel: string): Promise<number>;
};

const reconnectDelay = (attempt: number) => Math.min(50 * 2 ** Math.min(attempt, 6), 2000);

/**
 * Redis Pub/Sub over two connections: a publisher that fails fast while Redis is away (so a
 * write is never held hostage by the bus), and a subscriber that resubscribes on every
 * reconnect and reports when it is really subscribed again.
 */
export class RedisTransport implements InvalidationTransport {
  private readonly publisher: Redis;
  private readonly subscriber: Redis;
  private readonly stateListeners: ((state: SubscriberState) => void)[] = [];
  private handler?: (payload: string) => void;
  private closing = false;
  /** The first connection error since connect() began: why it failed, if it does. */
  private firstError?: Error;
  subscriberState: SubscriberState = 'down';

  constructor(private readonly options: RedisTransportOptions) {
    const common: RedisOptions = {
      lazyConnect: true,
      retryStrategy: reconnectDelay,
      commandTimeout: options.commandTimeoutMs ?? 1000,
      ...(options.tlsCa ? { tls: { ca: options.tlsCa } } : {}),
    };
    this.publisher = new Redis(options.url, {
      ...common,
      connectionName: `${options.replicaId}:publisher`,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
    });
    this.subscriber = new Redis(options.url, {
      ...common,
      connectionName: `${options.replicaId}:subscriber`,
      autoResubscribe: false,
      commandTimeout: undefined,
      maxRetriesPerRequest: null,
    });
    this.publisher.defineCommand('publishAndLog', { numberOfKeys: 1, lua: PUBLISH_AND_LOG });
    this.publisher.on('error', (error) => {
      this.firstError ??= error;
      options.onError?.('publisher', error);
    });
    this.subscriber.on('error', (error) => {
      this.firstError ??= error;
      options.onError?.('subscriber', error);
    });
    this.subscriber.on('message', (channel: string, payload: string) => {
      if (channel === options.channel) this.handler?.(payload);
    });
    this.subscriber.on('close', () => this.setState('down'));
    this.subscriber.on('ready', () => {
      if (this.handler && !this.closing) void this.resubscribe();
    });
  }

  /** Connects both connections; on failure, closes both and rejects. */
  async connect(): Promise<void> {
    this.firstError = undefined;
    // Both settle before either is torn down: disconnecting one mid-handshake (TLS) leaves its
    // socket to emit an error nobody listens to any more.
    const [publisher, subscriber] = await Promise.allSettled([this.publisher.connect(), this.subscriber.connect()]);
    const failed = [publisher, subscriber].find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (!failed) return;
    this.publisher.disconnect();
    this.subscriber.disconnect();
    // ioredis rejects with "Connection is closed."; the error event said why (TLS, auth, refused).
    const why = this.firstError ?? (failed.reason as Error);
    throw new Error(`cannot connect to Redis: ${why.message}`, { cause: why });
  }

  async publish(payload: string): Promise<number> {
    return this.publisher.publish(this.options.channel, payload);
  }

  async appendAndPublish(payload: string): Promise<number> {
    const { key, maxLen } = this.logOptions();
    return (this.publisher as LoggingRedis).publishAndLog(key, payload, maxLen, this.options.channel);
  }

  /** The invalidation log (stream mode), read with the publisher connection. */
  log(): InvalidationLog {
    return new RedisStreamLog(this.publisher, this.logOptions().key);
  }

  ready(): boolean {
    return this.publisher.status === 'ready' && this.subscriberState === 'up';
  }

  async ping(): Promise<void> {
    await this.publisher.ping();
  }

  async subscribe(onMessage: (payload: string) => void): Promise<void> {
    this.handler = onMessage;
    await this.resubscribe();
  }

  onSubscriberState(listener: (state: SubscriberState) => void): void {
    this.stateListeners.push(listener);
  }

  membership(key = `members:${this.options.channel}`): MembershipRegistry {
    return new RedisMembership(this.publisher, key);
  }

  async unsubscribe(): Promise<void> {
    this.handler = undefined;
    this.setState('down');
    await this.subscriber.unsubscribe(this.options.channel);
  }

  async close(): Promise<void> {
    this.closing = true;
    this.setState('down');
    await Promise.allSettled([this.subscriber.quit(), this.publisher.quit()]);
    this.subscriber.disconnect();
    this.publisher.disconnect();
  }

  private logOptions(): { key: string; maxLen: number } {
    if (!this.options.log) throw new Error('this transport was made without an invalidation log');
    return this.options.log;
  }

  private async resubscribe(): Promise<void> {
    try {
      await this.subscriber.subscribe(this.options.channel);
      this.setState('up');
    } catch (error) {
      // The connection dropped mid-subscribe; the next 'ready' tries again.
      this.options.onError?.('subscriber', error as Error);
    }
  }

  private setState(state: SubscriberState): void {
    if (state === this.subscriberState) return;
    this.subscriberState = state;
    for (const listener of this.stateListeners) listener(state);
  }
}

/** How far ahead of this clock a member's heartbeat may be scored (clock skew between hosts). */
export const MEMBER_CLOCK_SKEW_MS = 5000;

/** Members in a sorted set scored by their last heartbeat (epoch ms). */
class RedisMembership implements MembershipRegistry {
  constructor(
    private readonly redis: Redis,
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
    private readonly redis: Redis,
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
