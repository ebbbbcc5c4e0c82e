import { randomBytes } from 'node:crypto';
import { type Context, context, type Link, trace } from '@opentelemetry/api';
import { preciseNow } from './clock';
import {
  type BatchMessage,
  type BulkMessage,
  encodeEnvelope,
  type HeartbeatMessage,
  type InvalidationMessage,
  invalidationsOf,
  MAX_KEYS_PER_MESSAGE,
  MAX_MESSAGE_BYTES,
} from './envelope';
import { MessagingAttributes, recordedTraceId, withProducerSpan } from './message-spans';
import type { ErrorObserver } from './observers';
import type { EnvelopeSigner } from './signing';
import type { InvalidationTransport, MembershipRegistry } from './transport';

export interface Change {
  keys: string[];
  id: string;
  version: number;
  op: InvalidationMessage['op'];
  /** When the write committed in the database (epoch ms). */
  committedAt: number;
}

export interface PublishObserver extends ErrorObserver {
  /** A key invalidation, a tag invalidation or a clear went out (once per change in a batch). */
  onPublished?(message: InvalidationMessage | BulkMessage, delivered: number, traceId: string | undefined): void;
  /** Fewer subscribers got a message (heartbeats included) than live members were expected. */
  onReceiversMissing?(missing: number): void;
  onMembership?(liveMembers: number): void;
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
  /** Where its events go: one observer (a synced cache's event channel). */
  events?: PublishObserver;
  /** Stream mode: every invalidation is appended to the transport's log with its publish. */
  appendToLog?: boolean;
  /** Signs every message (see signing.ts); unsigned without. */
  signer?: EnvelopeSigner;
  /**
   * While the bus has been failing for less than this, a rejected invalidation is retried (same
   * payload, same sequence number) until the bus takes it: a failover lasts seconds, and the write
   * waits it out, so an acknowledged write's invalidation was published. Once the bus has failed
   * for longer (an outage, not a failover), writes stop waiting: one try each, the outbox catches
   * up. 0: one try always (pubsub).
   */
  retryForMs?: number;
  /**
   * Coalesce writes that come together: the first write is sent at once, alone (a plain v1
   * invalidation); those that follow it before the process's next tick (the rest of the same
   * callback and the promise continuations it runs) go together on that tick, in messages of at
   * most MAX_KEYS_PER_MESSAGE keys. A lone write never waits, nor does any write wait for the event
   * loop's next phase; a burst of writes, such as a bulk update, goes in a few larger messages.
   */
  coalesce?: boolean;
}

const NO_LINKS: Link[] = [];

/** Coalesced messages stay well under MAX_MESSAGE_BYTES (header, trace context and signature included). */
const BATCH_BYTES = MAX_MESSAGE_BYTES - 4096;

interface Pending {
  change: Change;
  /** The writer's trace context, to parent or link the PRODUCER span. */
  context: Context;
  resolve(): void;
  reject(error: Error): void;
}

/**
 * Publishes invalidations and heartbeats in one numbered sequence per (origin, epoch), so a
 * receiver can count exactly what it missed, and compares PUBLISH's receiver count with the
 * membership registry so that missing receivers show up on the sending side too.
 */
export class InvalidationPublisher {
  readonly epoch = randomBytes(6).toString('hex');
  private seq = 0;
  private readonly pending: Pending[] = [];
  /** A write went out and the process's next tick has not come yet: the writes after it wait for that tick. */
  private turnBusy = false;
  private expectedReceivers = 0;
  private heartbeatTimer?: NodeJS.Timeout;
  private readonly events: PublishObserver;
  /** When publishes (heartbeats included) started failing, if they still are. */
  private failingSince?: number;

  constructor(private readonly options: InvalidationPublisherOptions) {
    this.events = options.events ?? {};
  }

  /** Publishes one invalidation inside a PRODUCER span; rejects if Redis did not take it. */
  async publish(change: Change): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const pending = { change, context: context.active(), resolve, reject };
      if (!this.options.coalesce) return void this.send([pending]);
      if (this.turnBusy) return void this.pending.push(pending);
      this.turnBusy = true;
      process.nextTick(this.endTurn);
      void this.send([pending]);
    });
  }

  private readonly endTurn = (): void => {
    this.turnBusy = false;
    this.flush();
  };

  private flush(): void {
    while (this.pending.length > 0) {
      let keys = 0;
      let bytes = 0;
      let count = 0;
      for (const { change } of this.pending) {
        const size = change.keys.reduce((n, key) => n + Buffer.byteLength(key) + 3, 200);
        if (count > 0 && (keys + change.keys.length > MAX_KEYS_PER_MESSAGE || bytes + size > BATCH_BYTES)) break;
        keys += change.keys.length;
        bytes += size;
        count += 1;
      }
      void this.send(this.pending.splice(0, count));
    }
  }

  /** Sends one message for a group of invalidations, and settles each writer's promise. */
  private async send(group: Pending[]): Promise<void> {
    const { channel, cache, origin } = this.options;
    const [first] = group as [Pending, ...Pending[]];
    const links: Link[] =
      group.length === 1
        ? NO_LINKS
        : group.slice(1).flatMap((p) => {
            const spanContext = trace.getSpanContext(p.context);
            return spanContext ? [{ context: spanContext }] : [];
          });
    const keyCount = group.reduce((n, p) => n + p.change.keys.length, 0);
    const attributes = {
      'cache.name': cache,
      'cache.keys.count': keyCount,
      ...(group.length > 1 ? { [MessagingAttributes.BATCH_MESSAGE_COUNT]: group.length } : {}),
    };
    try {
      await context.with(first.context, () =>
        withProducerSpan(
          channel,
          attributes,
          async (carrier, span) => {
            const header = this.header();
            const items = group.map(({ change }) => ({
              keys: change.keys,
              id: change.id,
              version: change.version,
              op: change.op,
              committedAt: change.committedAt,
            }));
            const message: InvalidationMessage | BatchMessage =
              items.length === 1
                ? { ...header, ...items[0]!, ...carrier }
                : { ...header, type: 'batch', items, ...carrier };
            const recording = span.isRecording();
            if (recording) span.setAttribute(MessagingAttributes.MESSAGE_ID, `${origin}/${this.epoch}/${message.seq}`);
            try {
              const payload = this.encode(message);
              if (recording) span.setAttribute(MessagingAttributes.BODY_SIZE, Buffer.byteLength(payload));
              const delivered = await this.deliver(payload);
              if (recording) span.setAttribute('messaging.redis.receivers', delivered);
              const traceId = recordedTraceId(span);
              for (const invalidation of invalidationsOf(message))
                this.events.onPublished?.(invalidation, delivered, traceId);
              this.checkReceivers(delivered);
            } catch (error) {
              this.events.onError?.(error as Error, 'publish');
              throw error;
            }
          },
          links,
        ),
      );
      for (const p of group) p.resolve();
    } catch (error) {
      for (const p of group) p.reject(error as Error);
    }
  }

  /**
   * Publishes a tag invalidation (or, without tags, a clear of the whole cache) in this sender's
   * numbered sequence, with the next version of the channel's counter, taken from the bus after
   * the change committed; resolves to that version once the bus took the message. Never
   * coalesced: it is rare, and its version must be taken after every change it covers.
   */
  async publishBulk(tags: readonly string[] | undefined, committedAt: number): Promise<number> {
    const { channel, cache, origin, transport } = this.options;
    const attributes = { 'cache.name': cache, 'cache.invalidation.kind': tags ? 'tags' : 'clear' };
    return withProducerSpan(channel, attributes, async (carrier, span) => {
      try {
        const version = await this.sendWithRetry(() => transport.nextVersion());
        const header = this.header();
        const message: BulkMessage = tags
          ? { ...header, type: 'tags', tags: [...tags], version, committedAt, ...carrier }
          : { ...header, type: 'clear', version, committedAt, ...carrier };
        if (span.isRecording()) {
          span.setAttribute(MessagingAttributes.MESSAGE_ID, `${origin}/${this.epoch}/${message.seq}`);
          span.setAttribute('cache.version', version);
          if (tags) span.setAttribute('cache.tags.count', tags.length);
        }
        const payload = this.encode(message);
        const delivered = await this.deliver(payload);
        this.events.onPublished?.(message, delivered, recordedTraceId(span));
        this.checkReceivers(delivered);
        return version;
      } catch (error) {
        this.events.onError?.(error as Error, 'publish');
        throw error;
      }
    });
  }

  /** The next message's header: this sender's identity and its next number. */
  private header() {
    const { cache, origin } = this.options;
    return { v: 1 as const, cache, origin, epoch: this.epoch, seq: this.nextSeq(), publishedAt: preciseNow() };
  }

  /** Publishes a payload (appended to the log first, in stream mode), retried as {@link sendWithRetry} says. */
  private deliver(payload: string): Promise<number> {
    const { transport, appendToLog } = this.options;
    return this.sendWithRetry(() => (appendToLog ? transport.appendAndPublish(payload) : transport.publish(payload)));
  }

  /**
   * Retries end retryForMs after the bus started failing. Each rejection retried is counted here;
   * the last one is thrown, and counted by the caller like any other publish error.
   */
  private async sendWithRetry(send: () => Promise<number>): Promise<number> {
    for (let attempt = 0; ; attempt += 1) {
      try {
        const delivered = await send();
        this.failingSince = undefined;
        return delivered;
      } catch (error) {
        this.failingSince ??= Date.now();
        const delay = Math.min(25 * 2 ** attempt, 250);
        if (Date.now() + delay > this.failingSince + (this.options.retryForMs ?? 0)) throw error;
        this.events.onError?.(error as Error, 'publish');
        await new Promise((resolve) => setTimeout(resolve, delay));
      }
    }
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
      this.events.onMembership?.(this.expectedReceivers);
      const message: HeartbeatMessage = {
        v: 1,
        type: 'heartbeat',
        origin,
        epoch: this.epoch,
        seq: this.nextSeq(),
        publishedAt: preciseNow(),
      };
      this.checkReceivers(await transport.publish(this.encode(message)));
      this.failingSince = undefined;
    } catch (error) {
      this.failingSince ??= Date.now();
      this.events.onError?.(error as Error, 'heartbeat');
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

  /** Encodes and signs; a message over the receivers' size limit is refused here and never sent. */
  private encode(message: InvalidationMessage | BatchMessage | HeartbeatMessage | BulkMessage): string {
    const body = encodeEnvelope(message);
    const payload = this.options.signer ? this.options.signer.sign(body) : body;
    if (payload.length > MAX_MESSAGE_BYTES) {
      throw new Error(`message of ${payload.length} characters is over the ${MAX_MESSAGE_BYTES} limit: not sent`);
    }
    return payload;
  }

  private nextSeq(): number {
    this.seq += 1;
    return this.seq;
  }

  private checkReceivers(delivered: number): void {
    const missing = this.expectedReceivers - delivered;
    if (missing > 0) this.events.onReceiversMissing?.(missing);
  }
}
