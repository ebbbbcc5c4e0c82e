import type { SubscriberState } from './transport';

export const SYNC_MODES = ['pubsub', 'pubsub-flush', 'stream'] as const;
export type SyncMode = (typeof SYNC_MODES)[number];

export type RecoveryReason = 'gap' | 'reconnect' | 'silence';

/** What a recovery did: replayed the missed invalidations (stream), or flushed the cache. */
export type RecoveryDone =
  | { action: 'replayed'; replayed: number }
  /**
   * pubsub-flush always; stream when its log no longer reached back far enough (`logTooShort`),
   * or held a message of a kind this version cannot apply (`notUnderstood`).
   */
  | { action: 'flushed'; logTooShort?: boolean; notUnderstood?: boolean };

/** One recovery, done or failed (a failed one is tried again, later each time). */
export type Recovery = { reason: RecoveryReason; ms: number } & (RecoveryDone | { action: 'failed'; error: Error });

/** What the recovery policy reports. */
export interface RecoveryObserver {
  /** The cache became untrusted (reads bypass it) or trusted again after a recovery. */
  onTrustChanged?(trusted: boolean): void;
  /** A recovery ended: what it did and how long it took from the fault being noticed. */
  onRecovery?(recovery: Recovery): void;
}

/**
 * What a replica does when it learns, or suspects, that it missed invalidations. `pubsub` (the
 * classic pattern) does nothing. The safer modes stop using the local cache while they cannot trust it (the
 * subscriber is down, or peers have gone silent for longer than the heartbeat timeout) and then
 * recover: `pubsub-flush` clears the cache, `stream` replays exactly what it missed.
 */
export interface SyncPolicy {
  readonly mode: SyncMode;
  /** Whether the local cache is trusted right now: reads may be served from it and fill it. */
  trusted(): boolean;
  onMessage(): void;
  onGap(): void;
  onSubscriberState(state: SubscriberState): void;
  setLiveMembers(count: number): void;
  stop(): void;
}

/** The classic pattern: the cache is always trusted, whatever was missed. */
export const pubsubPolicy: SyncPolicy = {
  mode: 'pubsub',
  trusted: () => true,
  onMessage: () => undefined,
  onGap: () => undefined,
  onSubscriberState: () => undefined,
  setLiveMembers: () => undefined,
  stop: () => undefined,
};

export interface RecoveringPolicyOptions {
  mode: Exclude<SyncMode, 'pubsub'>;
  /** Peers silent this long (while some are expected) make the cache untrusted. */
  silenceMs: number;
  /** Recovery starts after a random delay up to this, so replicas do not all hit the database at once. */
  jitterMs: number;
  /** Clears the cache (pubsub-flush) or replays what was missed (stream); rejects if it cannot. */
  recover(reason: RecoveryReason): Promise<RecoveryDone>;
  /** The cache has just stopped being trusted: what was applied up to now is known good. */
  onTrustLost?(): void;
  /** Where its events go: one observer (a synced cache's event channel). */
  events?: RecoveryObserver;
  now?: () => number;
}

/** A failed recovery is tried again after this, doubling up to RETRY_MAX_MS. */
export const RETRY_MIN_MS = 100;
export const RETRY_MAX_MS = 5_000;

export class RecoveringPolicy implements SyncPolicy {
  readonly mode: Exclude<SyncMode, 'pubsub'>;
  private subscriberUp = true;
  private lastMessageAt: number;
  private liveMembers = 1;
  private recovering = false;
  /** Recoveries failed in a row: the next one waits longer (RETRY_MAX_MS at most). */
  private failures = 0;
  /** False from a fault until the recovery after it has completed. */
  private recovered = true;
  /** The last verdict reported through onTrustChanged. */
  private reported = true;
  private silent = false;
  private readonly timer: NodeJS.Timeout;
  private readonly now: () => number;

  constructor(private readonly options: RecoveringPolicyOptions) {
    this.mode = options.mode;
    this.now = options.now ?? Date.now;
    this.lastMessageAt = this.now();
    this.timer = setInterval(() => this.trusted(), Math.max(50, Math.floor(options.silenceMs / 4))).unref();
  }

  trusted(): boolean {
    // Checked on every read too: a replica resumed after a pause serves its queued requests
    // before any timer runs, and must not serve them from a cache it cannot trust.
    this.checkSilence();
    const trusted = this.subscriberUp && this.recovered && !this.silent;
    if (trusted !== this.reported) {
      this.reported = trusted;
      this.options.events?.onTrustChanged?.(trusted);
    }
    return trusted;
  }

  onMessage(): void {
    this.lastMessageAt = this.now();
    if (this.silent) {
      this.silent = false;
      this.trigger('silence');
    }
  }

  onGap(): void {
    this.trigger('gap');
  }

  onSubscriberState(state: SubscriberState): void {
    if (state === 'down') {
      this.subscriberUp = false;
      this.loseTrust();
      this.trusted();
      return;
    }
    if (this.subscriberUp) return; // already up: nothing was missed
    this.subscriberUp = true;
    this.lastMessageAt = this.now();
    // Peers fell silent while it was down: the recovery below covers that too. Left set, the first
    // message would start a second one, and the cache would stay untrusted through both.
    this.silent = false;
    this.trigger('reconnect');
  }

  setLiveMembers(count: number): void {
    // A peer that just joined has not spoken yet: silence counts from now, not from before it came.
    if (this.liveMembers <= 1 && count > 1) this.lastMessageAt = this.now();
    this.liveMembers = count;
  }

  stop(): void {
    clearInterval(this.timer);
  }

  private checkSilence(): void {
    if (this.silent || this.liveMembers <= 1) return;
    if (this.now() - this.lastMessageAt > this.options.silenceMs) {
      this.silent = true;
      this.loseTrust();
    }
  }

  private loseTrust(): void {
    if (this.recovered) this.options.onTrustLost?.();
    this.recovered = false;
  }

  private trigger(reason: RecoveryReason): void {
    this.loseTrust();
    if (this.recovering) {
      this.again = reason;
      return;
    }
    this.recovering = true;
    const startedAt = this.now();
    const backoff = this.failures === 0 ? 0 : Math.min(RETRY_MIN_MS * 2 ** (this.failures - 1), RETRY_MAX_MS);
    const delay = backoff + Math.random() * this.options.jitterMs;
    setTimeout(() => {
      if (!this.subscriberUp) {
        // Down again before it started: the reconnect will trigger the recovery that counts.
        this.recovering = false;
        this.again = undefined;
        return;
      }
      this.options
        .recover(reason)
        .then(
          (done) => {
            this.failures = 0;
            this.options.events?.onRecovery?.({ reason, ms: this.now() - startedAt, ...done });
            if (this.subscriberUp && !this.silent) this.recovered = true;
            this.trusted();
          },
          (error: Error) => {
            this.failures += 1;
            this.options.events?.onRecovery?.({ reason, ms: this.now() - startedAt, action: 'failed', error });
            // Tried again while the subscriber is up (a reconnect triggers its own recovery): the
            // replay's connection may come back after the subscriber's, and the cache must not
            // stay untrusted until the next gap.
            if (this.subscriberUp) this.again ??= reason;
          },
        )
        .finally(() => {
          this.recovering = false;
          const again = this.again;
          this.again = undefined;
          if (again) this.trigger(again);
        });
    }, delay).unref();
  }

  private again?: RecoveryReason;
}
