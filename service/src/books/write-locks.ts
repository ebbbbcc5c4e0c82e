import { randomUUID } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';
import mongoose, { type Connection, type Model, Schema, type Types } from 'mongoose';
import { isDuplicateKey, isUnknownOutcome } from './mongo-errors';

/** Another writer held the book for longer than this write may wait. */
export class BookBusyError extends Error {
  constructor(readonly id: string) {
    super('another write of this book is in progress');
    this.name = 'BookBusyError';
  }
}

interface WriteLock {
  _id: Types.ObjectId;
  owner: string;
  at: Date;
}
const lockSchema = new Schema<WriteLock>(
  { _id: { type: Schema.Types.ObjectId, required: true }, owner: String, at: Date },
  { versionKey: false },
);

export interface WriteLocksOptions {
  /** How long a writer waits for a book another writer holds. */
  waitMs: number;
  /** A lock older than this was left by a writer that died (or froze) mid-write: it may be taken. */
  staleMs: number;
}

/**
 * One writer at a time per book, across every replica: a lock is a document whose `_id` is the
 * book's, so the unique `_id` index lets exactly one insert win. Stores that apply an update as a
 * read, a modify and a write without a transaction (FerretDB v1) lose one of two concurrent
 * updates of a document and acknowledge the same version to both; their inserts are atomic.
 */
export class WriteLocks {
  private readonly model: Model<WriteLock>;

  constructor(
    connection: Connection,
    private readonly options: WriteLocksOptions,
  ) {
    this.model = connection.model<WriteLock>('BookWriteLock', lockSchema, 'book_write_locks');
  }

  /** Runs `write` holding the book; throws BookBusyError when it stays held past `waitMs`. */
  async hold<T>(book: Types.ObjectId, write: () => Promise<T>): Promise<T> {
    const owner = await this.acquire(book, Date.now() + this.options.waitMs);
    if (!owner) throw new BookBusyError(book.toHexString());
    return this.holding(book, owner, write);
  }

  /** Runs `write` holding the book if nobody else holds it now; undefined (nothing run) if someone does. */
  async tryHold<T>(book: Types.ObjectId, write: () => Promise<T>): Promise<T | undefined> {
    const owner = await this.acquire(book, 0);
    return owner ? this.holding(book, owner, write) : undefined;
  }

  private async holding<T>(book: Types.ObjectId, owner: string, write: () => Promise<T>): Promise<T> {
    try {
      const result = await write();
      await this.release(book, owner);
      return result;
    } catch (error) {
      // A write sent without an answer may still be applied later: the book stays held until the
      // lock goes stale, so no other write can run beside it.
      if (!isUnknownOutcome(error)) await this.release(book, owner);
      throw error;
    }
  }

  private async release(book: Types.ObjectId, owner: string): Promise<void> {
    await this.model.deleteOne({ _id: book, owner }).catch(() => undefined);
  }

  private async acquire(book: Types.ObjectId, deadline: number): Promise<string | undefined> {
    const owner = randomUUID();
    for (let attempt = 0; ; attempt += 1) {
      try {
        await this.model.create({ _id: book, owner, at: new Date() });
        return owner;
      } catch (error) {
        if (!isDuplicateKey(error)) throw error;
      }
      const stale = await this.model.deleteOne({
        _id: book,
        at: mongoose.trusted({ $lt: new Date(Date.now() - this.options.staleMs) }),
      });
      if (stale.deletedCount === 1) continue;
      if (Date.now() >= deadline) return undefined;
      // Jittered and growing to 16 ms: writers of one hot book do not retry in lockstep.
      await delay(Math.min(16, 2 ** attempt) * (0.5 + Math.random() / 2));
    }
  }

  async createIndexes(): Promise<void> {
    await this.model.createIndexes();
  }
}
