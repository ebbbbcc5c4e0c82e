import type { Versioned } from '../cache/local-cache';
import type { ErrorObserver } from './observers';

/**
 * What the audit asks the source of truth: when the first version after `version` of record `id`
 * was written (or, as `acknowledgedAfter`, first acknowledged to a writer's client), epoch ms.
 */
export type WrittenAfter = (id: string, version: number) => Promise<number | undefined>;

export interface StaleObserver extends ErrorObserver {
  /**
   * A sampled hit was checked against the source: `stale` when it served a version older than the
   * source's, with `ageSeconds`, how long it had been stale. Every check counts toward the
   * fresh-hits ratio's denominator, the stale ones toward its numerator.
   */
  onHitChecked?(stale: boolean, ageSeconds?: number): void;
  /**
   * A sampled hit served a version older than one already committed, whose write no client had
   * been told of yet (see `acknowledgedAfter`): stale to the database, not to any reader. Counted
   * apart; the same check also reports `onHitChecked(false)`. `ageSeconds`: since the commit.
   */
  onHitUnacknowledged?(ageSeconds: number): void;
  /**
   * From a write's commit to the moment this replica could no longer serve the older version (s):
   * by invalidation (reported by the subscriber) or, here, by TTL expiry.
   */
  onStaleWindow?(seconds: number): void;
  /** Sampled checks started and not finished yet (+1 when one starts, -1 when it ends); a check that cannot ask the source is an error during `audit`, not counted. */
  onChecksPending?(change: 1 | -1): void;
}

export interface StaleAuditOptions {
  writtenAfter: WrittenAfter;
  /**
   * When a version after `version` was first acknowledged to the client that wrote it. With it, a
   * hit is stale only once a newer write was acknowledged (by more than the grace) before it, as
   * a client's history judges; a hit between a commit and its acknowledgment is counted apart.
   * An answer later than now means "not known yet": it is asked again once that time has passed
   * (ACK_RECHECK_MAX_MS at most).
   */
  acknowledgedAfter?: WrittenAfter;
  /** Fraction of cache hits checked against the source, off the request path (0: none). */
  sampleRate: number;
  /**
   * A newer version counts as stale-making only if written this long before the hit: a version's
   * write time is stamped before its commit, and a hit served between the two was not yet stale.
   */
  graceMs: number;
  observer: StaleObserver;
  random?: () => number;
}

/** The longest a check waits to ask `acknowledgedAfter` again (whatever time its first answer named). */
const ACK_RECHECK_MAX_MS = 60_000;

/**
 * Checks, off the request path, whether what the cache served was already stale: a sample of
 * hits, and every expiry (where a lost invalidation's stale window finally ends).
 */
export class StaleAudit {
  private readonly random: () => number;

  constructor(private readonly options: StaleAuditOptions) {
    this.random = options.random ?? Math.random;
  }

  /**
   * Samples a hit for the check. `delivered` is asked one turn later, so an answer nobody received
   * (the client gave up and closed its end) is not counted as a read.
   */
  hit(value: Versioned, servedAt: number, delivered: () => boolean = () => true): void {
    const { sampleRate, observer, writtenAfter, acknowledgedAfter, graceMs } = this.options;
    if (sampleRate <= 0 || this.random() >= sampleRate) return;
    observer.onChecksPending?.(1);
    setImmediate(async () => {
      try {
        if (!delivered()) return;
        // Stale only if the first version after the cached one was written (by more than the
        // grace) before the hit was served. A deletion leaves no time behind and is not counted.
        const newerSince = await writtenAfter(value.id, value.version);
        const before = (t: number | undefined): t is number => t !== undefined && t + graceMs < servedAt;
        if (!before(newerSince)) return observer.onHitChecked?.(false);
        // Only a hit that looks stale asks the second question (one more read of the source).
        let knownSince: number | undefined = newerSince;
        if (acknowledgedAfter) {
          knownSince = await acknowledgedAfter(value.id, value.version);
          // An answer later than now is not final: an acknowledgment given before the hit may be
          // recorded after this first question. Asked once more when that time has come.
          const notYet = knownSince === undefined ? 0 : knownSince - Date.now();
          if (notYet > 0) {
            await new Promise((resolve) => setTimeout(resolve, Math.min(notYet, ACK_RECHECK_MAX_MS)).unref());
            knownSince = await acknowledgedAfter(value.id, value.version);
          }
        }
        if (before(knownSince)) return observer.onHitChecked?.(true, (servedAt - knownSince) / 1000);
        observer.onHitChecked?.(false);
        observer.onHitUnacknowledged?.((servedAt - newerSince) / 1000);
      } catch (error) {
        observer.onError?.(error as Error, 'audit');
      } finally {
        observer.onChecksPending?.(-1);
      }
    });
  }

  /** An entry expired: if the source had moved on, its newer version only now reaches this replica. */
  expired(value: Versioned): void {
    const expiredAt = Date.now();
    this.options
      .writtenAfter(value.id, value.version)
      .then((newerSince) => {
        if (newerSince !== undefined) this.options.observer.onStaleWindow?.(Math.max(0, expiredAt - newerSince) / 1000);
      })
      .catch((error) => this.options.observer.onError?.(error as Error, 'audit'));
  }
}
