import type { TopologyKind } from './redis-topology';

export type SubscriberState = 'up' | 'down';
export type SubscriberStateListener = (state: SubscriberState, node?: string) => void;

/**
 * What the sync layer needs from a message bus: behaviour, never a client. Redis Pub/Sub in
 * production (redis-transport.ts), in-memory in unit tests (memory-transport.ts); one contract
 * suite runs against both (service/test/integration/transport-contract.test.ts).
 */
export interface InvalidationTransport {
  /** Publishes a payload and resolves to the number of subscribers it was delivered to. */
  publish(payload: string): Promise<number>;
  /** Appends the payload to the invalidation log and publishes it, atomically (stream mode). */
  appendAndPublish(payload: string): Promise<number>;
  /**
   * The next tag-and-clear version of this channel: one counter every replica shares, so its
   * order is the order in which the changes behind it were announced (Redis: INCR).
   */
  nextVersion(): Promise<number>;
  /** Starts delivering every payload on the channel to `onMessage`; resolves once subscribed. */
  subscribe(onMessage: (payload: string) => void): Promise<void>;
  /** Stops delivering (whatever is published meanwhile is lost to this subscriber) until `subscribe` again. */
  unsubscribe(): Promise<void>;
  /**
   * Called on every change of the subscriber's connection: up once (re)subscribed, with the server
   * (host:port) it is subscribed on (another one after a failover), down when lost.
   */
  onSubscriberState(listener: SubscriberStateListener): void;
  readonly subscriberState: SubscriberState;
  /** The Redis topology underneath, when there is one (metrics and logs only). */
  readonly topology?: TopologyKind;
  /** Whether a publish can go out now and reach the channel's subscribers, this one included. */
  ready(): boolean;
  /** Resolves when the bus answers a round trip; rejects otherwise (readiness). */
  ping(): Promise<void>;
  /** The registry of live members on this channel. */
  membership(): MembershipRegistry;
  /** The log that `appendAndPublish` writes to; throws if this transport was made without one. */
  log(): InvalidationLog;
  close(): Promise<void>;
}

/** The capped log of invalidations that stream mode replays from. */
export interface InvalidationLog {
  /** Entries (payloads) published at or after `sinceMs`, oldest first, and whether the log reaches back that far. */
  readSince(sinceMs: number): Promise<{ payloads: string[]; reachesBack: boolean }>;
}

/** Which replicas are alive and subscribed, so a publisher knows how many receivers to expect. */
export interface MembershipRegistry {
  /** Records this replica as alive now, and returns how many members (self included) are live. */
  heartbeat(member: string, nowMs: number, liveWindowMs: number): Promise<number>;
  /** Counts live members without registering. */
  countLive(nowMs: number, liveWindowMs: number): Promise<number>;
  leave(member: string): Promise<void>;
}
