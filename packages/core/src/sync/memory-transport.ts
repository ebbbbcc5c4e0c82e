import type {
  InvalidationLog,
  InvalidationTransport,
  MembershipRegistry,
  SubscriberState,
  SubscriberStateListener,
} from './transport';

/** An in-process bus with Redis Pub/Sub's semantics: fire-and-forget, delivered to current subscribers only. */
export class MemoryBus {
  readonly subscribers = new Set<MemoryTransport>();
  readonly members = new Map<string, number>();
  /** The invalidation log: (time appended, payload), oldest first, never trimmed. */
  readonly entries: { at: number; payload: string }[] = [];
  /** The channel's tag-and-clear version counter. */
  version = 0;

  transport(): MemoryTransport {
    return new MemoryTransport(this);
  }

  membership(): MembershipRegistry {
    const members = this.members;
    const countLive = async (nowMs: number, windowMs: number) =>
      [...members.values()].filter((seenAt) => seenAt > nowMs - windowMs && seenAt <= nowMs + 5000).length;
    return {
      async heartbeat(member, nowMs, windowMs) {
        members.set(member, nowMs);
        return countLive(nowMs, windowMs);
      },
      countLive,
      async leave(member) {
        members.delete(member);
      },
    };
  }
}

export class MemoryTransport implements InvalidationTransport {
  private handler?: (payload: string) => void;
  private readonly stateListeners: SubscriberStateListener[] = [];
  subscriberState: SubscriberState = 'down';

  constructor(private readonly bus: MemoryBus) {}

  async publish(payload: string): Promise<number> {
    const receivers = [...this.bus.subscribers];
    for (const receiver of receivers) queueMicrotask(() => receiver.handler?.(payload));
    return receivers.length;
  }

  async appendAndPublish(payload: string): Promise<number> {
    this.bus.entries.push({ at: Date.now(), payload });
    return this.publish(payload);
  }

  async nextVersion(): Promise<number> {
    this.bus.version += 1;
    return this.bus.version;
  }

  async subscribe(onMessage: (payload: string) => void): Promise<void> {
    this.handler = onMessage;
    this.setConnected(true);
  }

  async unsubscribe(): Promise<void> {
    this.handler = undefined;
    this.setConnected(false);
  }

  ready(): boolean {
    return this.subscriberState === 'up';
  }

  async ping(): Promise<void> {}

  membership(): MembershipRegistry {
    return this.bus.membership();
  }

  log(): InvalidationLog {
    const entries = this.bus.entries;
    return {
      async readSince(sinceMs) {
        return { payloads: entries.filter((e) => e.at >= sinceMs).map((e) => e.payload), reachesBack: true };
      },
    };
  }

  onSubscriberState(listener: SubscriberStateListener): void {
    this.stateListeners.push(listener);
  }

  /** Simulates losing or regaining the subscriber connection (on `node`, to simulate a failover). */
  setConnected(connected: boolean, node = 'memory'): void {
    if (connected) this.bus.subscribers.add(this);
    else this.bus.subscribers.delete(this);
    const state: SubscriberState = connected ? 'up' : 'down';
    if (state === this.subscriberState) return;
    this.subscriberState = state;
    for (const listener of this.stateListeners) listener(state, connected ? node : undefined);
  }

  async close(): Promise<void> {
    this.setConnected(false);
  }
}
