import type { Change, Stale, SyncedCache } from '@local-cache-sync/core';
import { preciseNow } from '@local-cache-sync/core/wire';
import type { Logger } from 'pino';
import {
  type AuthorBooks,
  type Book,
  type BookInput,
  type BookPatch,
  type Cached,
  isAuthorBooks,
  MAX_BOOKS_PER_AUTHOR,
} from './book';
import type { BookRepository, WriteResult } from './book-repository';
import { authorKey, authorTag, bookTag, idKey, keysOf, nameKey } from './keys';
import { isUnknownOutcome } from './mongo-errors';

/** The database did not answer a write in time: it may or may not have been applied. */
export class WriteOutcomeUnknownError extends Error {
  constructor(readonly id: string) {
    super('the database did not answer in time: the write may or may not have been applied');
    this.name = 'WriteOutcomeUnknownError';
  }
}

/** STALE: fail-safe answered a kept book because MongoDB failed or was too slow (see `stale`). */
export type CacheStatus = 'HIT' | 'MISS' | 'STALE';
export interface Read<T = Book> {
  book: T;
  cache: CacheStatus;
  stale?: Stale;
}

export interface BookServiceOptions {
  repository: BookRepository;
  /** The synced cache of books: reads through it, and every write announced on it. */
  cache: SyncedCache<Cached>;
  logger: Logger;
  /** A write timed out after it was sent: it may still commit (it is announced all the same). */
  onOutcomeUnknown?: (op: Change['op']) => void;
  /** Runs between the database commit and the publish: the chaos switch's crash-after-commit. */
  afterCommit?: () => void;
  /** Record when each update's answer reached its client (for the stale audit; a write each). */
  recordAcknowledgments?: boolean;
}

/** Cache-aside reads by id and by name; writes go to MongoDB, then evict locally, then publish. */
export class BookService {
  constructor(private readonly options: BookServiceOptions) {}

  getById(id: string): Promise<Read | null> {
    return this.read(idKey(id), () => this.options.repository.findById(id));
  }

  getByName(name: string): Promise<Read | null> {
    return this.read(nameKey(name), () => this.options.repository.findByName(name));
  }

  /** The books of `author` (at most MAX_BOOKS_PER_AUTHOR, by name), cached as one entry tagged with each. */
  async listByAuthor(author: string): Promise<Read<AuthorBooks>> {
    const { repository, cache } = this.options;
    const { value, hit, stale } = await cache.getOrLoad(
      authorKey(author),
      async () => ({
        id: authorKey(author),
        version: 0 as const,
        author,
        books: await repository.findByAuthor(author, MAX_BOOKS_PER_AUTHOR),
      }),
      {
        tags: (list) => [authorTag(author), ...(isAuthorBooks(list) ? list.books.map((book) => bookTag(book.id)) : [])],
      },
    );
    if (!value || !isAuthorBooks(value)) throw new Error(`the cache holds no author list under ${authorKey(author)}`);
    return { book: value, cache: stale ? 'STALE' : hit ? 'HIT' : 'MISS', ...(stale ? { stale } : {}) };
  }

  async create(input: BookInput): Promise<Book> {
    return this.afterWrite('create', await this.options.repository.create(input));
  }

  /** `expected`: the version the client read (If-Match); the write fails with a conflict otherwise. */
  async update(id: string, changes: BookPatch, expected?: number): Promise<Book | null> {
    const result = await this.announcingUnknownOutcome('update', id, changes, () =>
      this.options.repository.update(id, changes, expected),
    );
    return result ? this.afterWrite('update', result) : null;
  }

  async delete(id: string, expected?: number): Promise<Book | null> {
    const result = await this.announcingUnknownOutcome('delete', id, {}, () =>
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
    changes: BookPatch,
    write: () => Promise<T>,
  ): Promise<T> {
    try {
      return await write();
    } catch (error) {
      if (!isUnknownOutcome(error)) throw error;
      const cached = this.options.cache.peek(idKey(id));
      const book = cached && !isAuthorBooks(cached) ? cached : undefined;
      const keys = keysOf(id, [book?.name, changes.name]);
      await this.announceAll({ keys, id, version: Number.MAX_SAFE_INTEGER, op, committedAt: preciseNow() }, [
        changes.author,
      ]).catch((failure) => this.options.logger.warn({ err: failure, id }, 'unknown-outcome write not announced'));
      this.options.onOutcomeUnknown?.(op);
      this.options.logger.warn({ id, op }, 'write outcome unknown (database timed out): every version evicted');
      throw new WriteOutcomeUnknownError(id);
    }
  }

  private async read(key: string, load: () => Promise<Book | null>): Promise<Read | null> {
    const { value, hit, stale } = await this.options.cache.getOrLoad(key, load);
    if (!value || isAuthorBooks(value)) return null;
    if (stale) return { book: value, cache: 'STALE', stale };
    return { book: value, cache: hit ? 'HIT' : 'MISS' };
  }

  private async afterWrite(op: Change['op'], result: WriteResult): Promise<Book> {
    const { before, after, committedAt } = result;
    this.options.afterCommit?.();
    const keys = keysOf(after.id, [after.name, before?.name]);
    this.options.logger.debug({ id: after.id, version: after.version, op }, 'book written');
    try {
      await this.announceAll({ keys, id: after.id, version: after.version, op, committedAt }, [after.author]);
    } catch (error) {
      // The write is committed and must be reported as done; the lost message is counted
      // (publish errors, and a sequence gap on every receiver). With an outbox, another replica
      // republishes it.
      this.options.logger.warn({ err: error, id: after.id, version: after.version }, 'invalidation publish failed');
    }
    return after;
  }

  /**
   * Announces a book's change, and invalidates the author lists it is or may now be in: those
   * tagged with the book (the lists it was in), and those of `authors` (a list it joins).
   */
  private async announceAll(change: Change, authors: (string | undefined)[]): Promise<void> {
    const { cache } = this.options;
    const tags = [bookTag(change.id), ...authors.flatMap((author) => (author ? [authorTag(author)] : []))];
    const [announced, tagged] = await Promise.allSettled([cache.announce(change), cache.invalidateTags(tags)]);
    for (const outcome of [announced, tagged]) if (outcome.status === 'rejected') throw outcome.reason;
  }

  /**
   * The HTTP layer delivered the answer to an update: from now on its client knows the version,
   * and a hit on an older one is stale to it (see the audit's acknowledgedAfter). Off the request
   * path; an acknowledgment that cannot be recorded leaves the audit its fallback.
   */
  acknowledged(book: Book, at: number): void {
    if (!this.options.recordAcknowledgments) return;
    this.options.repository
      .acknowledge(book.id, book.version, at)
      .catch((error) =>
        this.options.logger.warn(
          { err: error, id: book.id },
          'acknowledgment not recorded: the audit counts this write known STALE_CHECK_ACK_WAIT_MS after its commit',
        ),
      );
  }

  /** Hands a hit to the stale audit once the HTTP layer has written it (see SyncedCache.auditHit). */
  auditHit(cached: Book, servedAt: number, delivered?: () => boolean): void {
    this.options.cache.auditHit(cached, servedAt, delivered);
  }
}
