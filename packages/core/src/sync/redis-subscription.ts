import { type Cluster, Redis, type RedisOptions } from 'ioredis';
import { type RedisTopology, remoteNode, serverClient } from './redis-topology';
import type { SubscriberState } from './transport';

export interface SubscriptionEvents {
  onMessage(payload: string): void;
  /** `node` (host:port) says which server the subscription is on once up: a new one after a failover. */
  onState(state: SubscriberState, node?: string): void;
  onError(error: Error): void;
}

/** One channel subscription that follows its server through reconnects and failovers. */
export interface ChannelSubscription {
  connect(): Promise<void>;
  /** Resolves once subscribed; messages flow to `events.onMessage` until stop(). */
  start(): Promise<void>;
  stop(): Promise<void>;
  close(): Promise<void>;
  disconnect(): void;
}

// Capped low: after a failover every moment without a connection to the new master is a loss, and
// in the safer modes every moment until the replay has run is reads bypassing the cache.
const RECONNECT_MAX_MS = 200;
export const reconnectDelay = (attempt: number) => Math.min(50 * 2 ** Math.min(attempt, 6), RECONNECT_MAX_MS);

const ignore = () => undefined;

/**
 * ioredis 6 reads its socket through prependListener('data'), which Node's Readable does not count
 * as a data listener: every chunk was buffered and handed to its decoder a tick later (a
 * process.nextTick, a buffer and a read() a message, about 3 µs of a replica's receive path, and a
 * hop on the way to the eviction). With one listener added through on(), Node hands each chunk
 * over in the read that brought it. Added at 'ready', once ioredis' own reader is in place, on
 * every connection it makes.
 */
function readAsReceived(client: Redis): void {
  client.on('ready', () => {
    if (!client.stream.listeners('data').includes(ignore)) client.stream.on('data', ignore);
  });
}

/**
 * SUBSCRIBE on one server (standalone, or the master a Sentinel names): ioredis reconnects, asking
 * the Sentinels again each time, and this resubscribes at every 'ready'.
 */
export class ServerSubscription implements ChannelSubscription {
  private readonly client: Redis;
  private active = false;
  private closing = false;

  constructor(
    topology: Exclude<RedisTopology, { kind: 'cluster' }>,
    private readonly channel: string,
    options: RedisOptions,
    private readonly events: SubscriptionEvents,
  ) {
    this.client = serverClient(topology, {
      ...options,
      autoResubscribe: false,
      commandTimeout: undefined,
      maxRetriesPerRequest: null,
    });
    readAsReceived(this.client);
    this.client.on('error', (error) => events.onError(error));
    this.client.on('message', (from: string, payload: string) => {
      if (from === channel && this.active) events.onMessage(payload);
    });
    this.client.on('close', () => events.onState('down'));
    this.client.on('ready', () => {
      if (this.active && !this.closing) void this.subscribe();
    });
  }

  connect(): Promise<void> {
    return this.client.connect();
  }

  async start(): Promise<void> {
    this.active = true;
    await this.subscribe();
  }

  async stop(): Promise<void> {
    this.active = false;
    this.events.onState('down');
    await this.client.unsubscribe(this.channel);
  }

  async close(): Promise<void> {
    this.closing = true;
    await this.client.quit().catch(() => undefined);
    this.client.disconnect();
  }

  disconnect(): void {
    this.client.disconnect();
  }

  private async subscribe(): Promise<void> {
    try {
      await this.client.subscribe(this.channel);
      this.events.onState('up', remoteNode(this.client));
    } catch (error) {
      // The connection dropped mid-subscribe; the next 'ready' tries again.
      this.events.onError(error as Error);
    }
  }
}

/**
 * SSUBSCRIBE on the master that owns the channel's slot (Redis Cluster's sharded Pub/Sub). When
 * that connection closes, or Redis says the slot moved (an unsolicited SUNSUBSCRIBE when the
 * master is demoted or the slot migrates), it asks the cluster who owns the slot now and
 * subscribes there: the new master after a failover. Each connection is single-use, so a
 * subscription never silently survives on a server that no longer owns the slot.
 */
export class ShardedSubscription implements ChannelSubscription {
  private client?: Redis;
  private active = false;
  private closing = false;
  private attempt = 0;
  private retry?: NodeJS.Timeout;
  private slot?: number;

  constructor(
    private readonly cluster: Cluster,
    private readonly channel: string,
    private readonly options: RedisOptions,
    private readonly events: SubscriptionEvents,
  ) {}

  async connect(): Promise<void> {
    // The cluster client connects; the subscription's own connection opens at start().
  }

  async start(): Promise<void> {
    this.active = true;
    await this.attach();
  }

  async stop(): Promise<void> {
    this.active = false;
    clearTimeout(this.retry);
    const client = this.client;
    this.client = undefined;
    this.events.onState('down');
    if (client) await client.quit().catch(() => client.disconnect());
  }

  async close(): Promise<void> {
    this.closing = true;
    await this.stop();
  }

  disconnect(): void {
    this.closing = true;
    clearTimeout(this.retry);
    this.client?.disconnect();
  }

  /** host:port of the master that owns the channel's slot now, asked of the cluster (not a cache). */
  private async owner(): Promise<{ host: string; port: number }> {
    this.slot ??= Number(await this.cluster.cluster('KEYSLOT', this.channel));
    const slot = this.slot;
    const ranges = await this.cluster.cluster('SLOTS');
    const master = ranges.find(([first, last]) => first <= slot && slot <= last)?.[2];
    if (!master) throw new Error(`no master owns slot ${slot} (cluster down?)`);
    return { host: String(master[0]), port: Number(master[1]) };
  }

  private async attach(): Promise<void> {
    const { host, port } = await this.owner();
    const client = new Redis({
      ...this.options,
      host,
      port,
      lazyConnect: true,
      retryStrategy: () => null,
      autoResubscribe: false,
      enableOfflineQueue: false,
      maxRetriesPerRequest: null,
      commandTimeout: undefined,
    });
    readAsReceived(client);
    client.on('error', (error) => this.events.onError(error));
    client.on('smessage', (from: string, payload: string) => {
      if (from === this.channel && this.client === client) this.events.onMessage(payload);
    });
    // Current before SSUBSCRIBE answers: a message can arrive in the same read as the confirmation.
    this.client = client;
    try {
      await client.connect();
      await client.ssubscribe(this.channel);
    } catch (error) {
      if (this.client === client) this.client = undefined;
      client.disconnect();
      throw error;
    }
    if (!this.active || this.closing || this.client !== client) {
      client.disconnect();
      return;
    }
    this.attempt = 0;
    const lost = () => this.lost(client);
    client.once('close', lost);
    client.once('moved', lost);
    this.events.onState('up', `${host}:${port}`);
  }

  private lost(client: Redis): void {
    if (this.client !== client) return;
    this.client = undefined;
    client.disconnect();
    this.events.onState('down');
    this.scheduleAttach();
  }

  private scheduleAttach(): void {
    if (!this.active || this.closing) return;
    this.retry = setTimeout(
      () => {
        this.attach().catch((error) => {
          this.events.onError(error as Error);
          this.scheduleAttach();
        });
      },
      reconnectDelay(this.attempt++),
    );
  }
}
