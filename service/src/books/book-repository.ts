import { preciseNow } from '@local-cache-sync/core/wire';
import mongoose, { type Connection, type Model, Types } from 'mongoose';
import type { Book, BookInput, BookPatch } from './book';
import {
  type Acknowledged,
  type BookDocument,
  bookSchema,
  definedOnly,
  live,
  NAMES_KEPT,
  toBook,
  type VersionHistory,
  WRITE_TIMES_KEPT,
} from './book-document';
import { isDuplicateKey } from './mongo-errors';
import { type OutboxEntry, OutboxMarks } from './outbox-marks';
import { WriteAcks } from './write-acks';
import { WriteLocks } from './write-locks';

export class DuplicateNameError extends Error {
  constructor(readonly bookName: string) {
    super(`a book named ${JSON.stringify(bookName)} already exists`);
  }
}

/** The result of a write: the book before and after it, and when the database acknowledged it. */
export interface WriteResult {
  before: Book | null;
  after: Book;
  committedAt: number;
}

/** A conditional write (If-Match) expected another version than the book has. */
export class VersionConflictError extends Error {
  constructor(readonly id: string) {
    super('the book is at another version than the one this write expects');
    this.name = 'VersionConflictError';
  }
}

/** A book's write lock counts as left by a dead or frozen writer after this many operation deadlines. */
const LOCK_STALE_FACTOR = 2;

/** Which Mongo-wire servers apply an update as a read, a modify and a write without a transaction. */
export function updatesAreAtomic(buildInfo: Record<string, unknown>): boolean {
  return !('ferretdbVersion' in buildInfo);
}

export interface ConnectOptions {
  /** Mark every write for the outbox (the safer sync modes). */
  outbox?: boolean;
  /** Bounds every operation: a server that stops answering fails it after this, instead of holding the request. */
  timeoutMs?: number;
  /**
   * One writer at a time per book (see WriteLocks). Decided from the server's buildInfo unless
   * given: on for FerretDB, whose updates are not atomic; off for MongoDB, where they are.
   */
  serializeWrites?: boolean;
}

/** MongoDB is the source of truth; every write bumps `version` with $inc in the same operation. */
export class BookRepository {
  private readonly model: Model<BookDocument>;
  private readonly marks: OutboxMarks;
  private readonly acks: WriteAcks;

  /**
   * With `outbox`, every write also marks the book, in the same operation, as having an
   * invalidation to publish; a crash between commit and publish leaves the mark for a sweeper.
   * With `locks`, every operation that rewrites a book holds it (a store without atomic updates).
   */
  constructor(
    private readonly connection: Connection,
    private readonly outbox = false,
    private readonly locks?: WriteLocks,
  ) {
    this.model = connection.model<BookDocument>('Book', bookSchema);
    this.marks = new OutboxMarks(this.model, (id, write) => this.exclusively(id, write), locks);
    this.acks = new WriteAcks(connection);
  }

  static async connect(uri: string, options: ConnectOptions = {}): Promise<BookRepository> {
    const timeoutMs = options.timeoutMs ?? 5000;
    const connection = mongoose.createConnection(uri, {
      sanitizeFilter: true,
      serverSelectionTimeoutMS: timeoutMs,
      connectTimeoutMS: timeoutMs,
      socketTimeoutMS: timeoutMs,
    });
    await connection.asPromise();
    try {
      const serialize =
        options.serializeWrites ?? !updatesAreAtomic(await requireDb(connection).admin().command({ buildInfo: 1 }));
      const locks = serialize
        ? new WriteLocks(connection, { waitMs: timeoutMs, staleMs: LOCK_STALE_FACTOR * timeoutMs })
        : undefined;
      const repository = new BookRepository(connection, options.outbox, locks);
      await repository.model.createIndexes();
      await locks?.createIndexes();
      return repository;
    } catch (error) {
      await connection.close();
      throw error;
    }
  }

  /** Whether writes of one book are serialised (the store's updates are not atomic). */
  get serializesWrites(): boolean {
    return this.locks !== undefined;
  }

  /** Runs an operation that rewrites the book, alone when the store needs it. */
  private exclusively<T>(id: string, write: () => Promise<T>): Promise<T> {
    return this.locks ? this.locks.hold(new Types.ObjectId(id), write) : write();
  }

  async create(input: BookInput): Promise<WriteResult> {
    try {
      const now = new Date();
      const created = await this.model.create({
        ...input,
        version: 1,
        updatedAt: now,
        writeTimes: [now],
        ...(this.outbox
          ? { outbox: { op: 'create', first: now, at: now, claimedUntil: now }, recentNames: [input.name] }
          : {}),
      });
      return { before: null, after: toBook(created.toObject()), committedAt: preciseNow() };
    } catch (error) {
      if (isDuplicateKey(error)) throw new DuplicateNameError(input.name);
      throw error;
    }
  }

  async findById(id: string): Promise<Book | null> {
    const doc = await this.findLive(id);
    return doc ? toBook(doc) : null;
  }

  /**
   * A book by `_id` alone, deleted ones left out here: FerretDB v1 uses the `_id` index only for a
   * filter of `_id` and nothing else, and scans the whole collection otherwise.
   */
  private async findLive(id: string, projection?: Record<string, 1>): Promise<BookDocument | null> {
    const doc = await this.model
      .findOne({ _id: new Types.ObjectId(id) }, projection && { ...projection, deletedAt: 1 })
      .lean<BookDocument>();
    return doc && doc.deletedAt === undefined ? doc : null;
  }

  async findByName(name: string): Promise<Book | null> {
    const doc = await this.model.findOne({ name: { $eq: name }, ...live() }).lean<BookDocument>();
    return doc ? toBook(doc) : null;
  }

  /** The live books of `author`, by name, at most `limit`. */
  async findByAuthor(author: string, limit: number): Promise<Book[]> {
    const docs = await this.model
      .find({ author: { $eq: author }, ...live() })
      .sort({ name: 1 })
      .limit(limit)
      .lean<BookDocument[]>();
    return docs.map(toBook);
  }

  /** The authoritative version and when its recent versions were written, for stale checks. */
  async findVersion(id: string): Promise<VersionHistory | null> {
    const doc = await this.findLive(id, { version: 1, updatedAt: 1, writeTimes: 1 });
    if (!doc) return null;
    const writeTimes = (doc.writeTimes ?? []).slice(-WRITE_TIMES_KEPT).map((t) => t.getTime());
    return { version: doc.version, updatedAt: doc.updatedAt.getTime(), writeTimes };
  }

  /** When the book's last updates were acknowledged to their clients, as far as recorded. */
  findAcknowledged(id: string): Promise<Acknowledged[]> {
    return this.acks.of(id);
  }

  /**
   * Records that version `version`'s update was acknowledged to its client at `at`, for the stale
   * audit: one upsert, made after the answer went out, only while hits are audited.
   */
  acknowledge(id: string, version: number, at: number): Promise<void> {
    return this.acks.record(id, version, at);
  }

  /**
   * Applies `changes` and bumps the version atomically; null if the book does not exist. With
   * `expected` (If-Match), only if the book is at that version, else VersionConflictError.
   */
  async update(id: string, changes: BookPatch, expected?: number): Promise<WriteResult | null> {
    return this.exclusively(id, () => this.applyUpdate(id, changes, expected));
  }

  private async applyUpdate(id: string, changes: BookPatch, expected?: number): Promise<WriteResult | null> {
    const version = expected === undefined ? {} : { version: expected };
    const updatedAt = new Date();
    try {
      const before = await this.model
        .findOneAndUpdate(
          { _id: new Types.ObjectId(id), ...live(), ...version },
          {
            $set: { ...changes, updatedAt, ...(this.outbox ? { 'outbox.op': 'update' } : {}) },
            // An earlier write's mark may still be unpublished: keep the oldest time, so a chain of
            // unpublished writes is republished after the first one's age, not the last one's.
            ...(this.outbox
              ? { $min: { 'outbox.first': updatedAt, 'outbox.at': updatedAt, 'outbox.claimedUntil': updatedAt } }
              : {}),
            $inc: { version: 1 },
            $push: {
              writeTimes: { $each: [updatedAt], $slice: -WRITE_TIMES_KEPT },
              ...(this.outbox && changes.name ? { recentNames: { $each: [changes.name], $slice: -NAMES_KEPT } } : {}),
            },
          },
          { returnDocument: 'before', runValidators: true },
        )
        .lean<BookDocument>();
      if (!before) return this.missingOrConflict(id, expected);
      const committedAt = preciseNow();
      if (this.locks && (before.writeTimes?.length ?? 0) >= 2 * WRITE_TIMES_KEPT) {
        // A server that ignored $slice: trim, still holding the book's lock (no other write runs).
        await this.model.updateOne(
          { _id: before._id },
          { $set: { writeTimes: [...before.writeTimes, updatedAt].slice(-WRITE_TIMES_KEPT) } },
        );
      }
      const after: BookDocument = { ...before, ...definedOnly(changes), version: before.version + 1, updatedAt };
      return { before: toBook(before), after: toBook(after), committedAt };
    } catch (error) {
      if (isDuplicateKey(error)) throw new DuplicateNameError(changes.name ?? '');
      throw error;
    }
  }

  /**
   * Deletes the book; the returned `after` carries the version the deletion takes (last + 1).
   * With the outbox the document stays, marked deleted, until its invalidation is published.
   */
  async delete(id: string, expected?: number): Promise<WriteResult | null> {
    return this.exclusively(id, () => this.applyDelete(id, expected));
  }

  private async applyDelete(id: string, expected?: number): Promise<WriteResult | null> {
    const filter = { _id: new Types.ObjectId(id), ...live(), ...(expected === undefined ? {} : { version: expected }) };
    const now = new Date();
    const doc = this.outbox
      ? await this.model
          .findOneAndUpdate(filter, {
            $set: { deletedAt: now, outbox: { op: 'delete', first: now, at: now, claimedUntil: now } },
            $inc: { version: 1 },
            $push: { writeTimes: { $each: [now], $slice: -WRITE_TIMES_KEPT } },
          })
          .lean<BookDocument>()
      : await this.model.findOneAndDelete(filter).lean<BookDocument>();
    if (!doc) return this.missingOrConflict(id, expected);
    const committedAt = preciseNow();
    // Nothing of a deleted book is audited: its acknowledgments go (a failure leaves 8 small slots).
    this.acks.forget(id).catch(() => undefined);
    const before = toBook(doc);
    return { before, after: { ...before, version: before.version + 1 }, committedAt };
  }

  /** A conditional write matched nothing: the book is gone (null) or at another version. */
  private async missingOrConflict(id: string, expected: number | undefined): Promise<null> {
    if (expected !== undefined && (await this.model.exists({ _id: new Types.ObjectId(id), ...live() }))) {
      throw new VersionConflictError(id);
    }
    return null;
  }

  async count(): Promise<number> {
    return this.model.countDocuments(live());
  }

  /** The writer could not publish: make the mark claimable by any replica's sweeper at once. */
  expediteOutbox(id: string, version: number): Promise<void> {
    return this.marks.expedite(id, version);
  }

  /** The invalidation of this write is published: clear its outbox mark (and finish a deletion). */
  settleOutbox(id: string, version: number, op: OutboxEntry['op']): Promise<void> {
    return this.marks.settle(id, version, op);
  }

  /** Every outbox mark, claimed or not, without touching it: writes that may still be unannounced. */
  pendingOutbox(limit?: number): Promise<OutboxEntry[]> {
    return this.marks.pending(limit);
  }

  /** Claims up to `limit` outbox marks older than `olderThan` for `claimMs`, so one replica republishes each. */
  claimOutbox(olderThan: number, claimMs: number, limit?: number): Promise<OutboxEntry[]> {
    return this.marks.claim(olderThan, claimMs, limit);
  }

  async ping(): Promise<void> {
    await requireDb(this.connection).admin().ping();
  }

  async close(): Promise<void> {
    await this.connection.close();
  }

  /** Drops every book (tests and demo resets only). */
  async deleteAll(): Promise<void> {
    await this.model.deleteMany({});
  }
}

function requireDb(connection: Connection) {
  if (!connection.db) throw new Error('MongoDB is not connected');
  return connection.db;
}
