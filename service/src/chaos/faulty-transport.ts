import type {
  InvalidationLog,
  InvalidationTransport,
  MembershipRegistry,
  SubscriberState,
  SubscriberStateListener,
} from '@local-cache-sync/core/transport';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Heartbeats are not counted by the publish faults: they are armed for the next invalidations. */
const isHeartbeat = (payload: string): boolean => {
  try {
    return (JSON.parse(payload) as { type?: unknown }).type === 'heartbeat';
  } catch {
    return false;
  }
};

/**
 * A transport that loses or holds back what it publishes and pauses its subscriber on request,
 * around the real one. The publisher and subscriber above it know nothing of faults: a dropped
 * message has used its sequence number, so receivers see the gap exactly as with a real loss.
 */
export class FaultyTransport implements InvalidationTransport {
  private dropRemaining = 0;
  private delayRemaining = 0;
  private delayMs = 0;
  /** The last held-back publish: later ones wait behind it, as on a slow link (no reordering). */
  private held?: Promise<unknown>;
  private handler?: (payload: string) => void;

  constructor(private readonly inner: InvalidationTransport) {}

  get topology() {
    return this.inner.topology;
  }

  /** The next `count` invalidations are lost on the wire. */
  dropNextPublishes(count: number): void {
    this.dropRemaining = count;
  }

  /** The next `count` invalidations leave `ms` late; whatever follows them waits behind. */
  delayNextPublishes(count: number, ms: number): void {
    this.delayRemaining = count;
    this.delayMs = ms;
  }

  /** Unsubscribes for `ms`: whatever is published meanwhile is lost to this replica. */
  async pauseSubscriber(ms: number): Promise<void> {
    const resume = await this.holdSubscriber();
    setTimeout(() => void resume().catch(() => undefined), ms).unref();
  }

  /**
   * Unsubscribes until the returned function is called: whatever is published meanwhile is lost to
   * this replica. The caller decides when the hold ends, so no write can miss the window.
   */
  async holdSubscriber(): Promise<() => Promise<void>> {
    const handler = this.handler;
    if (!handler) throw new Error('not subscribed');
    await this.inner.unsubscribe();
    return async () => {
      if (this.handler === handler) await this.inner.subscribe(handler);
    };
  }

  faults() {
    return { dropNextPublishes: this.dropRemaining, delayNextPublishes: this.delayRemaining, delayMs: this.delayMs };
  }

  publish(payload: string): Promise<number> {
    return this.send(payload, () => this.inner.publish(payload));
  }

  appendAndPublish(payload: string): Promise<number> {
    return this.send(payload, () => this.inner.appendAndPublish(payload));
  }

  nextVersion(): Promise<number> {
    return this.inner.nextVersion();
  }

  subscribe(onMessage: (payload: string) => void): Promise<void> {
    this.handler = onMessage;
    return this.inner.subscribe(onMessage);
  }

  unsubscribe(): Promise<void> {
    this.handler = undefined;
    return this.inner.unsubscribe();
  }

  onSubscriberState(listener: SubscriberStateListener): void {
    this.inner.onSubscriberState(listener);
  }

  get subscriberState(): SubscriberState {
    return this.inner.subscriberState;
  }

  ready(): boolean {
    return this.inner.ready();
  }

  ping(): Promise<void> {
    return this.inner.ping();
  }

  membership(): MembershipRegistry {
    return this.inner.membership();
  }

  log(): InvalidationLog {
    return this.inner.log();
  }

  close(): Promise<void> {
    this.handler = undefined;
    return this.inner.close();
  }

  private send(payload: string, go: () => Promise<number>): Promise<number> {
    const armed = this.dropRemaining > 0 || this.delayRemaining > 0;
    const counted = armed && !isHeartbeat(payload);
    const drop = counted && this.dropRemaining > 0;
    if (drop) this.dropRemaining -= 1;
    const delayMs = counted && this.delayRemaining > 0 ? this.delayMs : 0;
    if (delayMs > 0) this.delayRemaining -= 1;
    if (delayMs === 0 && !this.held) return drop ? Promise.resolve(0) : go();

    const result = (this.held ?? Promise.resolve())
      .then(() => (delayMs > 0 ? sleep(delayMs) : undefined))
      .then(() => (drop ? 0 : go()));
    const settled = result.catch(() => undefined);
    this.held = settled;
    void settled.then(() => {
      if (this.held === settled) this.held = undefined;
    });
    return result;
  }
}
