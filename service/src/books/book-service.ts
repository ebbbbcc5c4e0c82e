import type { Logger } from 'pino';
import type { LocalCache } from '../cache/local-cache';
import { preciseNow } from '../sync/clock';
import type { Change } from '../sync/invalidation-publisher';
import type { Book, BookInput, BookPatch } from './book';
import { type BookRepository, firstWriteAfter, type WriteResult } from './book-repository';
import { idKey, isIdKey, keysOf, nameKey } from './keys';

/** The database did not answer a write in time: it may or may not have been applied. */
export class WriteOutcomeUnknownError extends Error {
  constructor(readonly id: string) {
    super('the database did not answer in time: the write may or may not have been applied');
    this.name = 'WriteOutcomeUnknownError';
  }
}

/** Errors after a write was sent, with no answer: a timeout or a connection lost mid-write. */
const isUnknownOutcome = (error: unknown): boolean =>
  /^Mongo(Network|NetworkTimeout)Error$/.test((error as { name?: string }).name ?? '');

export type CacheStatus = 'HIT' | 'MISS';
export interface Read {
  book: Book;
  cache: CacheStatus;
}

export interface ChangePublisher {
  publish(change: Change): Promise<void>;
}

export interface StaleObserver {
  /** A cache hit served a version older than the database's; age is how long it had been stale. */
  onStaleRead(ageSeconds: number): void;
  /** A newer version reached this replica by TTL expiry: seconds from its write to the expiry. */
  onStaleWindow(seconds: number): void;
  /** Sampled checks started and not finished yet (+1 when one starts, -1 when it ends). */
  onChecksPending?(change: 1 | -1): void;
}

export interface BookServiceOptions {
  repository: BookRepository;
  cache: LocalCache<Book>;
  publisher: ChangePublisher;
  logger: Logger;
  /** Fraction of cache hits checked against the database, off the request path. */
  staleCheckSampleRate: number;
  /**
   * A newer version counts as stale-making only if written this long before the hit: updatedAt is
   * stamped before the commit, and a hit served between the two was not yet stale to any client.
   */
  staleCheckGraceMs?: number;
  stale?: StaleObserver;
  /** A write timed out after it was sent: it may still commit (it is announced all the same). */
  onOutcomeUnknown?: (op: Change['op']) => void;
  /** Runs between the database commit and the publish: the chaos switch's crash-after-commit. */
  afterCommit?: () => void;
  /** The sync policy's verdict: false while the cache is not trusted (reads bypass it). */
  trusted?: () => boolean;
  /** Writes carry an outbox mark (see BookRepository): clear it once the invalidation is out. */
  outbox?: boolean;
}

/** Cache-aside reads by id and by name; writes go to MongoDB, then evict locally, then publish. */
export class BookService {
  constructor(private readonly options: BookServiceOptions) {
    const { cache, stale } = options;
    if (stale) {
      cache.observe({
        onEvict: (key, value, reason) => {
          if (reason === 'expired' && isIdKey(key)) this.auditExpiry(value, stale);
        },
      });
    }
  }

  getById(id: string): Promise<Read | null> {
    return this.read(idKey(id), () => this.options.repository.findById(id));
  }

  getByName(name: string): Promise<Read | null> {
    return this.read(nameKey(name), () => this.options.repository.findByName(name));
  }

  async create(input: BookInput): Promise<Book> {
    return this.afterWrite('create', await this.options.repository.create(input));
  }

  /** `expected`: the version the client read (If-Match); the write fails with a conflict otherwise. */
  async update(id: string, changes: BookPatch, expected?: number): Promise<Book | null> {
    const result = await this.announcingUnknownOutcome('update', id, changes.name, () =>
      this.options.repository.update(id, changes, expected),
    );
    return result ? this.afterWrite('update', result) : null;
  }

  async delete(id: string, expected?: number): Promise<Book | null> {
    const result = await this.announcingUnknownOutcome('delete', id, undefined, () =>
      this.options.repository.delete(id, expected),
    );
    return result ? this.afterWrite('delete', result) : null;
  }

  /**
   * A write whose outcome is unknown (the database stopped answering after it was sent) may still
   * commit. Evicting is always safe, so every version of the book is evicted here and announced
   * before the error goes back: no replica keeps the older version once the database recovers.
   */
  private async announcingUnknownOutcome<T>(
    op: Change['op'],
    id: string,
    newName: string | undefined,
    write: () => Promise<T>,
  ): Promise<T> {
    try {
      return await write();
    } catch (error) {
      if (!isUnknownOutcome(error)) throw error;
      const cached = this.options.cache.peek(idKey(id));
      const keys = keysOf(id, [cached?.name, newName]);
      const version = Number.MAX_SAFE_INTEGER;
      for (const key of keys) this.options.cache.evictOlderThan(key, id, version, 'local_write');
      await this.options.publisher
        .publish({ keys, id, version, op, committedAt: preciseNow() })
        .catch((failure) => this.options.logger.warn({ err: failure, id }, 'unknown-outcome write not announced'));
      this.options.onOutcomeUnknown?.(op);
      this.options.logger.warn({ id, op }, 'write outcome unknown (database timed out): every version evicted');
      throw new WriteOutcomeUnknownError(id);
    }
  }

  private async read(key: string, load: () => Promise<Book | null>): Promise<Read | null> {
    const trusted = () => this.options.trusted?.() ?? true;
    if (trusted()) {
      const cached = this.options.cache.get(key);
      if (cached) return { book: cached, cache: 'HIT' };
    }
    const token = this.options.cache.fillToken();
    const book = await load();
    if (!book) return null;
    // Asked again: the cache may have lost trust while we read (a replica resumed after a
    // pause finishes reads it started before). A fill fence may refuse it too: an invalidation
    // for a newer version, or a flush, arrived while we read.
    if (trusted()) this.options.cache.set(key, book, token);
    return { book, cache: 'MISS' };
  }

  private async afterWrite(op: Change['op'], result: WriteResult): Promise<Book> {
    const { before, after, committedAt } = result;
    this.options.afterCommit?.();
    const keys = keysOf(after.id, [after.name, before?.name]);
    for (const key of keys) this.options.cache.evictOlderThan(key, after.id, after.version, 'local_write');
    this.options.logger.debug({ id: after.id, version: after.version, op }, 'book written');
    try {
      await this.options.publisher.publish({ keys, id: after.id, version: after.version, op, committedAt });
      // Cleared before the response, so the client's next write of this book cannot race it.
      if (this.options.outbox) {
        await this.options.repository
          .settleOutbox(after.id, after.version, op)
          .catch((error) =>
            this.options.logger.debug({ err: error }, 'outbox not cleared; the sweeper will republish'),
          );
      }
    } catch (error) {
      // The write is committed and must be reported as done; the lost message is counted
      // (publish errors, and a sequence gap on every receiver). With an outbox, another replica
      // republishes it: tell them not to wait.
      if (this.options.outbox) {
        await this.options.repository.expediteOutbox(after.id, after.version).catch(() => undefined);
      }
      this.options.logger.warn({ err: error, id: after.id, version: after.version }, 'invalidation publish failed');
    }
    return after;
  }

  /**
   * Samples a cache hit for the stale check, off the request path. The HTTP layer calls it once the
   * response is written; `delivered` is asked one turn later, so a response nobody received (the
   * client gave up and closed its end) is not counted as a read.
   */
  auditHit(cached: Book, servedAt: number, delivered: () => boolean = () => true): void {
    const { staleCheckSampleRate, stale, repository, logger } = this.options;
    const graceMs = this.options.staleCheckGraceMs ?? 0;
    if (!stale || staleCheckSampleRate <= 0 || Math.random() >= staleCheckSampleRate) return;
    stale.onChecksPending?.(1);
    setImmediate(async () => {
      try {
        if (!delivered()) return;
        const current = await repository.findVersion(cached.id);
        // Stale only if the first version after the cached one was written (by more than the
        // grace) before the hit was served. A deletion leaves no time behind and is not counted.
        const newerSince = current ? firstWriteAfter(current, cached.version) : undefined;
        if (newerSince !== undefined && newerSince + graceMs < servedAt) {
          stale.onStaleRead((servedAt - newerSince) / 1000);
        }
      } catch (error) {
        logger.debug({ err: error }, 'stale check failed');
      } finally {
        stale.onChecksPending?.(-1);
      }
    });
  }

  /** An entry expired: if the database had moved on, its newer version only now reaches this replica. */
  private auditExpiry(expired: Book, stale: StaleObserver): void {
    const expiredAt = Date.now();
    this.options.repository
      .findVersion(expired.id)
      .then((current) => {
        const newerSince = current ? firstWriteAfter(current, expired.version) : undefined;
        if (newerSince !== undefined) stale.onStaleWindow(Math.max(0, expiredAt - newerSince) / 1000);
      })
      .catch((error) => this.options.logger.debug({ err: error }, 'expiry audit failed'));
  }
}
