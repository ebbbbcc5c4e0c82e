import type { Attributes, Span } from '@opentelemetry/api';
import type { LocalCache, Versioned } from '../cache/local-cache';
import { preciseNow } from './clock';
import {
  type BatchMessage,
  type BulkMessage,
  type CacheScope,
  type DecodeResult,
  decodeEnvelope,
  type Envelope,
  type InvalidationMessage,
  invalidationsOf,
  isBulk,
  isHeartbeat,
  MAX_MESSAGE_BYTES,
  type RejectReason,
  type Sender,
} from './envelope';
import { GapDetector } from './gap-detector';
import { consumerAttributes, MessagingAttributes, recordedTraceId, withConsumerSpan } from './message-spans';
import { type EnvelopeSigner, unsignedBody } from './signing';

export interface ReceiveObserver {
  /** Any valid message from a peer arrived (heartbeats included). */
  onMessage?(message: Envelope): void;
  onRejected?(reason: RejectReason, detail: string): void;
  /**
   * `count` messages from `origin` never arrived: a sequence gap that no late arrival filled within
   * the reorder window, or messages this version could not apply.
   */
  onMissed?(count: number, origin: string): void;
  onInvalidation?(applied: AppliedInvalidation): void;
  /** A tag invalidation or a clear applied here: from a peer, or this replica's own. */
  onTagInvalidation?(applied: AppliedTagInvalidation): void;
  /** A sender-supplied time outside [now - TIME_HORIZON_MS, now + CLOCK_SKEW_MS]: not used. */
  onImplausibleTime?(field: 'published_at' | 'committed_at', detail: string): void;
  /** Origins whose sequences are tracked now (bounded). */
  onOrigins?(count: number): void;
}

/** How old a sender's timestamp may be to be used (a resumed replica reads what queued while it was frozen). */
export const TIME_HORIZON_MS = 10 * 60_000;
/** How far ahead of this clock a sender's timestamp may be to be used. */
export const CLOCK_SKEW_MS = 5_000;
const isPlausibleTime = (at: number, now: number) => at >= now - TIME_HORIZON_MS && at <= now + CLOCK_SKEW_MS;

export interface AppliedInvalidation {
  message: InvalidationMessage;
  evictedKeys: number;
  /** From the sender's publishedAt to the eviction here, in seconds (undefined if that time is implausible). */
  lagSeconds: number | undefined;
  /** From the write's commit to the moment this replica stopped serving older versions (undefined if implausible). */
  staleWindowSeconds: number | undefined;
  traceId: string | undefined;
}

export interface AppliedTagInvalidation {
  kind: 'tags' | 'clear';
  /** The tags invalidated (empty for a clear). */
  tags: readonly string[];
  /** Its version from Redis (undefined for this replica's own before Redis gave one). */
  version: number | undefined;
  evictedKeys: number;
  /** Who invalidated: a peer, or this replica (`local`). */
  origin: string;
  local: boolean;
  lagSeconds: number | undefined;
  staleWindowSeconds: number | undefined;
  traceId: string | undefined;
}

export interface InvalidationSubscriberOptions<V extends Versioned> {
  cache: LocalCache<V>;
  /** Which messages this cache accepts: its name and key scheme. */
  scope: CacheScope;
  channel: string;
  selfOrigin: string;
  /** Where its events go: one observer (a synced cache's event channel). */
  events?: ReceiveObserver;
  /** With keys, only messages signed with one of them are accepted (see signing.ts). */
  signer?: EnvelopeSigner;
  /** Stream mode: keep the ids of applied invalidations, so a replay applies only what was missed. */
  replays?: boolean;
  /**
   * A gap is counted as missed only if its numbers have not arrived this long after it was seen:
   * a retried publish can arrive after later messages (default 0: counted at once).
   */
  reorderWindowMs?: number;
  /** Called at once on every gap, whatever arrives later: the sync mode recovers from it. */
  onGap?(): void;
}

/** Gaps waiting out the reorder window at most; beyond it the oldest is counted at once. */
const PENDING_GAPS = 1024;

/** A gap seen and not yet counted: the numbers of `origin`'s sequence still missing, and when they count. */
interface PendingGap {
  origin: string;
  epoch: string;
  missing: number;
  due: number;
}

/** Applies invalidation messages to the local cache. Never throws, whatever arrives on the channel. */
export class InvalidationSubscriber<V extends Versioned> {
  /** Per sender, what it numbered; a message this version cannot apply is held as its sender. */
  private readonly gaps = new GapDetector<Envelope | Sender>();
  private readonly events: ReceiveObserver;
  /**
   * Ids (origin/epoch/seq) of recently applied invalidations, with when (local clock) each was
   * applied, so a replay applies only what was missed. Kept APPLIED_KEPT_MS, or from the moment
   * trust was lost until the replay ran (`holdApplied`), never more than APPLIED_KEPT ids.
   */
  private readonly applied = new Map<string, number>();
  private heldSince?: number;
  /** publishedAt of the newest invalidation applied: where a replay of the log starts. */
  lastAppliedPublishedAt = 0;
  /** The CONSUMER span's attributes that never change (given at its start, for samplers). */
  private readonly spanAttributes: Attributes;
  /** Gaps seen and not yet counted, oldest first: numbers still missing, and when they count. */
  private readonly pendingGaps: PendingGap[] = [];
  private gapTimer?: NodeJS.Timeout;

  constructor(private readonly options: InvalidationSubscriberOptions<V>) {
    this.events = options.events ?? {};
    this.spanAttributes = consumerAttributes(options.channel, {
      [MessagingAttributes.CONSUMER_GROUP]: options.selfOrigin,
      'cache.name': options.scope.name,
    });
  }

  readonly handle = (raw: string): void => {
    try {
      this.receive(raw);
    } catch (error) {
      // A bug in handling must not take down the replica; count it as a rejection.
      this.events.onRejected?.('invalid_envelope', `handler failed: ${(error as Error).message}`);
    }
  };

  /**
   * Applies one entry replayed from the log if it was missed (stream mode); returns whether it
   * was applied. Replays do not touch the gap detector: missed counts what Pub/Sub lost.
   */
  replay(raw: string): 'applied' | 'skipped' | 'not_understood' {
    const decoded = this.decode(raw);
    if (!decoded.ok) {
      // A newer sender's message this version cannot apply: the replay cannot make up for it.
      const sender = decoded.sender;
      return sender && sender.origin !== this.options.selfOrigin && !this.applied.has(messageId(sender))
        ? 'not_understood'
        : 'skipped';
    }
    if (isHeartbeat(decoded.message) || decoded.message.origin === this.options.selfOrigin) return 'skipped';
    if (this.applied.has(messageId(decoded.message))) return 'skipped';
    this.apply(decoded.message);
    return 'applied';
  }

  private receive(raw: string): void {
    const decoded = this.decode(raw);
    if (!decoded.ok) {
      this.events.onRejected?.(decoded.reason, decoded.detail);
      if (decoded.sender && decoded.sender.origin !== this.options.selfOrigin) this.notUnderstood(decoded.sender);
      return;
    }
    const message = decoded.message;
    if (message.origin === this.options.selfOrigin) return;

    const origins = this.gaps.size;
    const sequence = this.gaps.observe(message.origin, message.epoch, message.seq, message);
    if (this.gaps.size !== origins) this.events.onOrigins?.(this.gaps.size);
    if (sequence.kind !== 'accepted') {
      // Out of sequence: no use for loss accounting. Its evictions are applied all the same:
      // evicting versions older than a message's is always safe, so no message, forged or
      // replayed, can stand in for a real one and keep its eviction from happening.
      this.events.onRejected?.(
        sequence.kind === 'held' ? 'implausible_seq' : 'duplicate',
        `${message.origin}/${message.epoch} seq ${message.seq}`,
      );
      if (!isHeartbeat(message)) this.apply(message);
      return;
    }
    this.account(message, sequence);
    if (sequence.released) this.accept(sequence.released);
    this.accept(message);
  }

  /** An accepted number: it opens a gap (numbers skipped), or fills one (a number skipped earlier). */
  private account({ origin, epoch }: Sender, sequence: { missed: number; late: boolean }): void {
    if (sequence.missed > 0) this.gap(origin, epoch, sequence.missed);
    else if (sequence.late) this.arrivedLate(origin, epoch);
  }

  /** `missing` numbers skipped: recovery starts now; they count as missed unless they arrive in time. */
  private gap(origin: string, epoch: string, missing: number): void {
    this.options.onGap?.();
    const windowMs = this.options.reorderWindowMs ?? 0;
    if (windowMs <= 0) return void this.events.onMissed?.(missing, origin);
    if (this.pendingGaps.length >= PENDING_GAPS) this.countGap(this.pendingGaps.shift()!);
    this.pendingGaps.push({ origin, epoch, missing, due: Date.now() + windowMs });
    this.gapTimer ??= setTimeout(() => this.countDueGaps(), windowMs).unref();
  }

  /** A number skipped earlier arrived: one fewer missing in the oldest gap of its sequence still open. */
  private arrivedLate(origin: string, epoch: string): void {
    const open = this.pendingGaps.find((g) => g.origin === origin && g.epoch === epoch && g.missing > 0);
    if (open) open.missing -= 1;
  }

  private countDueGaps(): void {
    this.gapTimer = undefined;
    const now = Date.now();
    while (this.pendingGaps.length > 0 && this.pendingGaps[0]!.due <= now) this.countGap(this.pendingGaps.shift()!);
    const next = this.pendingGaps[0];
    if (next) this.gapTimer = setTimeout(() => this.countDueGaps(), Math.max(0, next.due - now)).unref();
  }

  /** Counts every gap still open as missed now (on close: nothing seen is left uncounted). */
  countOpenGaps(): void {
    clearTimeout(this.gapTimer);
    this.gapTimer = undefined;
    for (const gap of this.pendingGaps.splice(0)) this.countGap(gap);
  }

  /** What of a gap never arrived counts as missed. */
  private countGap({ missing, origin }: PendingGap): void {
    if (missing > 0) this.events.onMissed?.(missing, origin);
  }

  /**
   * A well-formed message of a type this version does not know: it takes its number in its
   * sender's sequence (so it is not counted twice), and counts as missed, since its change was
   * not applied; the mode recovers as from any gap (flush, or replay, which flushes on it).
   */
  private notUnderstood(sender: Sender): void {
    const sequence = this.gaps.observe(sender.origin, sender.epoch, sender.seq, sender);
    if (sequence.kind !== 'accepted') return;
    this.account(sender, sequence);
    this.options.onGap?.();
    this.events.onMissed?.(1, sender.origin);
    if (sequence.released) this.accept(sequence.released);
  }

  /** A message in sequence: seen, and applied unless it is a heartbeat. */
  private accept(message: Envelope | Sender): void {
    if (!('v' in message)) {
      this.options.onGap?.();
      return void this.events.onMissed?.(1, message.origin);
    }
    this.events.onMessage?.(message);
    if (!isHeartbeat(message)) this.apply(message);
  }

  /** Verifies the signature (when this replica has keys), then validates the envelope. */
  private decode(raw: string): DecodeResult {
    if (raw.length > MAX_MESSAGE_BYTES) return decodeEnvelope(raw, this.options.scope);
    const { signer } = this.options;
    if (!signer) return decodeEnvelope(unsignedBody(raw), this.options.scope);
    const verified = signer.verify(raw);
    if (!verified.ok) return { ok: false, reason: verified.reason, detail: 'signature check failed' };
    return decodeEnvelope(verified.body, this.options.scope);
  }

  /** Seconds from a sender's time to `now`, if that time is plausible here; reports it otherwise. */
  private secondsSince(field: 'published_at' | 'committed_at', at: number, now: number): number | undefined {
    if (isPlausibleTime(at, now)) return Math.max(0, now - at) / 1000;
    this.events.onImplausibleTime?.(field, `${at} is ${((at - now) / 1000).toFixed(0)} s from now`);
    return undefined;
  }

  /** Applies a plain or coalesced invalidation, a tag invalidation or a clear inside one CONSUMER span. */
  private apply(message: InvalidationMessage | BatchMessage | BulkMessage): void {
    this.remember(message);
    if (isBulk(message)) withConsumerSpan(this.options.channel, message, this.spanAttributes, this.evictBulk, message);
    else withConsumerSpan(this.options.channel, message, this.spanAttributes, this.evict, message);
  }

  private readonly evictBulk = (span: Span, message: BulkMessage): void => {
    const { cache } = this.options;
    const tags = message.type === 'tags' ? message.tags : [];
    const evictedKeys =
      message.type === 'tags'
        ? cache.invalidateTags(tags, message.version, 'invalidation')
        : cache.clear(message.version, 'invalidation');
    const now = preciseNow();
    const traceId = recordedTraceId(span);
    this.events.onTagInvalidation?.({
      kind: message.type,
      tags,
      version: message.version,
      evictedKeys,
      origin: message.origin,
      local: false,
      lagSeconds: this.secondsSince('published_at', message.publishedAt, now),
      staleWindowSeconds: this.secondsSince('committed_at', message.committedAt, now),
      traceId,
    });
    if (span.isRecording())
      span.setAttributes({
        [MessagingAttributes.MESSAGE_ID]: messageId(message),
        'cache.invalidation.kind': message.type,
        'cache.version': message.version,
        'cache.tags.count': tags.length,
        'cache.evicted.count': evictedKeys,
      });
  };

  /** The work of apply inside its span: a method, so no closure is made per message. */
  private readonly evict = (span: Span, message: InvalidationMessage | BatchMessage): void => {
    const { cache } = this.options;
    const invalidations = invalidationsOf(message);
    let evictedInMessage = 0;
    let keys = 0;
    const traceId = recordedTraceId(span);
    for (const invalidation of invalidations) {
      let evictedKeys = 0;
      for (const key of invalidation.keys) {
        if (cache.evictOlderThan(key, invalidation.id, invalidation.version, 'invalidation')) evictedKeys += 1;
      }
      evictedInMessage += evictedKeys;
      keys += invalidation.keys.length;
      const now = preciseNow();
      this.events.onInvalidation?.({
        message: invalidation,
        evictedKeys,
        lagSeconds: this.secondsSince('published_at', invalidation.publishedAt, now),
        staleWindowSeconds: this.secondsSince('committed_at', invalidation.committedAt, now),
        traceId,
      });
    }
    if (!span.isRecording()) return;
    span.setAttributes({
      [MessagingAttributes.MESSAGE_ID]: messageId(message),
      'cache.keys.count': keys,
      'cache.evicted.count': evictedInMessage,
    });
    if (invalidations.length > 1) span.setAttribute(MessagingAttributes.BATCH_MESSAGE_COUNT, invalidations.length);
  };

  /** Trust was lost: keep every id applied from a while before now until `releaseApplied`, for the replay. */
  holdApplied(): void {
    this.heldSince ??= Date.now() - APPLIED_KEPT_MS;
  }

  releaseApplied(): void {
    this.heldSince = undefined;
  }

  /** How many applied ids are kept (for tests of their bound). */
  get appliedKept(): number {
    return this.applied.size;
  }

  private remember(message: InvalidationMessage | BatchMessage | BulkMessage): void {
    const now = Date.now();
    if (this.options.replays) {
      this.applied.set(messageId(message), now);
      // Oldest first: stop at the first one still kept.
      const keptSince = Math.min(now - APPLIED_KEPT_MS, this.heldSince ?? Number.POSITIVE_INFINITY);
      for (const [id, at] of this.applied) {
        if (at >= keptSince && this.applied.size <= APPLIED_KEPT) break;
        this.applied.delete(id);
      }
    }
    // Only a plausible time may move where a replay starts: a forged future one would skip what was missed.
    if (isPlausibleTime(message.publishedAt, now)) {
      this.lastAppliedPublishedAt = Math.max(this.lastAppliedPublishedAt, Math.min(message.publishedAt, now));
    }
  }
}

/** A replay reaches back 2 s before the newest message applied when trust was lost: far less than this. */
const APPLIED_KEPT_MS = 30_000;
const APPLIED_KEPT = 100_000;
const messageId = (m: { origin: string; epoch: string; seq: number }) => `${m.origin}/${m.epoch}/${m.seq}`;
