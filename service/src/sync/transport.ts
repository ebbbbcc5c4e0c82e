export type SubscriberState = 'up' | 'down';

/** What the sync layer needs from a message bus; Redis Pub/Sub in production, in-memory in unit tests. */
export interface InvalidationTransport {
  /**
   * Publishes a payload and resolves to the number of subscribers it was delivered to. With
   * `append` (stream mode, invalidations only) the payload is also appended to the log, atomically.
   */
  publish(payload: string, append?: boolean): Promise<number>;
  /** Starts delivering every payload on the channel to `onMessage`; resolves once subscribed. */
  subscribe(onMessage: (payload: string) => void): Promise<void>;
  /** Called on every change of the subscriber's connection: up once (re)subscribed, down when lost. */
  onSubscriberState(listener: (state: SubscriberState) => void): void;
  readonly subscriberState: SubscriberState;
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
