import { randomBytes } from 'node:crypto';
import { preciseNow } from '../telemetry/clock';
import { MessagingAttributes, recordedTraceId, withProducerSpan } from '../telemetry/messaging';
import { encodeEnvelope, type HeartbeatMessage, type InvalidationMessage } from './envelope';
import type { InvalidationTransport, MembershipRegistry } from './transport';

export interface Change {
  keys: string[];
  id: string;
  version: number;
  op: InvalidationMessage['op'];
  /** When the write committed in the database (epoch ms). */
  committedAt: number;
}

export interface PublishObserver {
  onPublished?(message: InvalidationMessage, delivered: number, traceId: string | undefined): void;
  onPublishError?(error: Error, kind: 'invalidation' | 'heartbeat'): void;
  /** Fewer subscribers got a message (heartbeats included) than live members were expected. */
  onReceiversMissing?(missing: number): void;
  onMembership?(liveMembers: number): void;
}

/** Injected faults on the publish path (the chaos switch). */
export interface PublishFaults {
  publishDelayMs(): number;
  shouldDropPublish(): boolean;
}

export interface InvalidationPublisherOptions {
  transport: InvalidationTransport;
  membership: MembershipRegistry;
  channel: string;
  cache: string;
  origin: string;
  heartbeatIntervalMs: number;
  /** A member that has not heartbeated for this long is no longer expected to receive. */
  memberTimeoutMs: number;
  observer?: PublishObserver;
  faults?: PublishFaults;
}

/**
 * Publishes invalidations and heartbeats in one numbered sequence per (origin, epoch), so a
 * receiver can count exactly what it missed, and compares PUBLISH's receiver count with the
 * membership registry so that missing receivers show up on the sending side too.
 */
export class InvalidationPublisher {
  readonly epoch = randomBytes(6).toString('hex');
  private seq = 0;
  private expectedReceivers = 0;
  private heartbeatTimer?: NodeJS.Timeout;
  private readonly observer: PublishObserver;

  constructor(private readonly options: InvalidationPublisherOptions) {
    this.observer = options.observer ?? {};
  }

  /** Publishes one invalidation inside a PRODUCER span; rejects if Redis did not take it. */
  async publish(change: Change): Promise<void> {
    const { channel, cache, origin, transport, faults } = this.options;
    const delayMs = faults?.publishDelayMs() ?? 0;
    if (delayMs > 0) await new Promise((resolve) => setTimeout(resolve, delayMs));
    await withProducerSpan(channel, { 'cache.name': cache, 'cache.keys.count': change.keys.length }, async (carrier, span) => {
      const message: InvalidationMessage = {
        v: 1,
        cache,
        keys: change.keys,
        id: change.id,
        version: change.version,
        op: change.op,
        origin,
        epoch: this.epoch,
        seq: this.nextSeq(),
        committedAt: change.committedAt,
        publishedAt: preciseNow(),
        ...carrier,
      };
      span.setAttribute(MessagingAttributes.MESSAGE_ID, `${origin}/${this.epoch}/${message.seq}`);
      try {
        const payload = encodeEnvelope(message);
        span.setAttribute(MessagingAttributes.BODY_SIZE, Buffer.byteLength(payload));
        // A dropped message keeps its sequence number: receivers see the gap, as with a real loss.
        const delivered = faults?.shouldDropPublish() ? 0 : await transport.publish(payload, true);
        span.setAttribute('messaging.redis.receivers', delivered);
        this.observer.onPublished?.(message, delivered, recordedTraceId(span));
        this.checkReceivers(delivered);
      } catch (error) {
        this.observer.onPublishError?.(error as Error, 'invalidation');
        throw error;
      }
    });
  }

  /** Registers this replica as a member (only while its subscriber is up) and sends a heartbeat. */
  async heartbeat(): Promise<void> {
    const { membership, origin, transport, memberTimeoutMs } = this.options;
    const now = Date.now();
    try {
      this.expectedReceivers =
        transport.subscriberState === 'up'
          ? await membership.heartbeat(origin, now, memberTimeoutMs)
          : await membership.countLive(now, memberTimeoutMs);
      this.observer.onMembership?.(this.expectedReceivers);
      const message: HeartbeatMessage = {
        v: 1,
        type: 'heartbeat',
        origin,
        epoch: this.epoch,
        seq: this.nextSeq(),
        publishedAt: preciseNow(),
      };
      this.checkReceivers(await transport.publish(encodeEnvelope(message)));
    } catch (error) {
      this.observer.onPublishError?.(error as Error, 'heartbeat');
    }
  }

  startHeartbeats(): void {
    const tick = () => {
      void this.heartbeat().finally(() => {
        if (this.heartbeatTimer) this.heartbeatTimer = setTimeout(tick, this.options.heartbeatIntervalMs).unref();
      });
    };
    this.heartbeatTimer = setTimeout(tick, 0).unref();
  }

  /** Stops heartbeating but stays a member (as a paused process would look to its peers). */
  stopHeartbeats(): void {
    clearTimeout(this.heartbeatTimer);
    this.heartbeatTimer = undefined;
  }

  async stop(): Promise<void> {
    this.stopHeartbeats();
    await this.options.membership.leave(this.options.origin).catch(() => undefined);
  }

  private nextSeq(): number {
    this.seq += 1;
    return this.seq;
  }

  private checkReceivers(delivered: number): void {
    const missing = this.expectedReceivers - delivered;
    if (missing > 0) this.observer.onReceiversMissing?.(missing);
  }
}
