import { preciseNow } from '@local-cache-sync/core/wire';
import mongoose, { type Connection, type Model, Schema, Types } from 'mongoose';
import type { Book, BookInput, BookPatch } from './book';
import { isDuplicateKey } from './mongo-errors';
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

interface BookDocument {
  _id: Types.ObjectId;
  name: string;
  author: string;
  year: number;
  version: number;
  updatedAt: Date;
  /** When each of the last versions was written, oldest first; the last entry is `version`'s. */
  writeTimes: Date[];
  /** Names the book had lately (an invalidation replayed from the outbox evicts them all). */
  recentNames?: string[];
  /**
   * Set in the same operation as the write, cleared once its invalidation is published. `first`:
   * the oldest unpublished write; `at`: when sweepers may take it (set to 0 when the writer knows
   * its publish failed).
   */
  outbox?: { op: 'create' | 'update' | 'delete'; first: Date; at: Date; claimedUntil?: Date };
  /** A deletion whose invalidation is not published yet (outbox mode): gone for readers. */
  deletedAt?: Date;
}

/** A write whose invalidation may not have been published (its replica died, or Redis was away). */
export interface OutboxEntry {
  id: string;
  version: number;
  op: 'create' | 'update' | 'delete';
  names: string[];
  at: number;
}

const NAMES_KEPT = 4;
// Filters built here, not from client input, so they are exempt from sanitizeFilter.
const live = () => ({ deletedAt: mongoose.trusted({ $exists: false }) });

/**
 * How many write times a book keeps: enough to date the first version a stale entry missed.
 * MongoDB applies the $slice that keeps it so; FerretDB v1 ignores $slice, so there the update
 * that finds the array at twice this trims it, under the book's write lock (reads use the last
 * entries only). Unbounded, every book grew by a date a write, and as FerretDB v1 parses every
 * document a query scans, its CPU climbed with the run's age until a 10-minute chaos run stalled.
 */
const WRITE_TIMES_KEPT = 8;

/** When version `version` of a book was written, as far as its kept write times tell. */
export interface VersionHistory {
  version: number;
  updatedAt: number;
  /** Write time of `version - i` at index `length - 1 - i`. */
  writeTimes: number[];
}

/**
 * The time the first version after `version` was written, or an upper bound of it when that
 * version is older than the kept history (its successors were written later still).
 */
export function firstWriteAfter(history: VersionHistory, version: number): number | undefined {
  if (history.version <= version) return undefined;
  const index = history.writeTimes.length - 1 - (history.version - (version + 1));
  return history.writeTimes[Math.max(0, index)] ?? history.updatedAt;
}

const bookSchema = new Schema<BookDocument>(
  {
    name: { type: String, required: true },
    author: { type: String, required: true },
    year: { type: Number, required: true },
    version: { type: Number, required: true, default: 1 },
    updatedAt: { type: Date, required: true },
    writeTimes: { type: [Date], default: [] },
    recentNames: { type: [String], default: undefined },
    outbox: {
      type: new Schema({ op: String, first: Date, at: Date, claimedUntil: Date }, { _id: false }),
      required: false,
    },
    deletedAt: { type: Date, required: false },
  },
  { versionKey: false, strict: 'throw', collection: 'books' },
);
bookSchema.index({ name: 1 }, { unique: true });

const toBook = (doc: BookDocument): Book => ({
  id: doc._id.toHexString(),
  name: doc.name,
  author: doc.author,
  year: doc.year,
  version: doc.version,
  updatedAt: doc.updatedAt.toISOString(),
});

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

  /** The authoritative version and when its recent versions were written, for stale checks. */
  async findVersion(id: string): Promise<VersionHistory | null> {
    const doc = await this.findLive(id, { version: 1, updatedAt: 1, writeTimes: 1 });
    if (!doc) return null;
    const writeTimes = (doc.writeTimes ?? []).slice(-WRITE_TIMES_KEPT).map((t) => t.getTime());
    return { version: doc.version, updatedAt: doc.updatedAt.getTime(), writeTimes };
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
    const before = toBook(doc);
    return { before, after: { ...before, version: before.version + 1 }, committedAt: preciseNow() };
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
  async expediteOutbox(id: string, version: number): Promise<void> {
    await this.exclusively(id, () =>
      this.model.updateOne(
        { _id: new Types.ObjectId(id), version },
        { $set: { 'outbox.at': new Date(0), 'outbox.claimedUntil': new Date(0) } },
      ),
    );
  }

  /** The invalidation of this write is published: clear its outbox mark (and finish a deletion). */
  async settleOutbox(id: string, version: number, op: OutboxEntry['op']): Promise<void> {
    const filter = { _id: new Types.ObjectId(id), version };
    await this.exclusively(id, async () => {
      if (op === 'delete') await this.model.deleteOne(filter);
      else await this.model.updateOne(filter, { $unset: { outbox: 1 } });
    });
  }

  /** Every outbox mark, claimed or not, without touching it: writes that may still be unannounced. */
  async pendingOutbox(limit = 1000): Promise<OutboxEntry[]> {
    const docs = await this.model
      .find({ outbox: mongoose.trusted({ $exists: true }) })
      .limit(limit)
      .lean<BookDocument[]>();
    return docs.flatMap((doc) => (doc.outbox ? [toOutboxEntry(doc, doc.outbox)] : []));
  }

  /** Claims up to `limit` outbox marks older than `olderThan` for `claimMs`, so one replica republishes each. */
  async claimOutbox(olderThan: number, claimMs: number, limit = 100): Promise<OutboxEntry[]> {
    const due = (now: Date) => ({
      'outbox.at': mongoose.trusted({ $lt: new Date(olderThan) }),
      'outbox.claimedUntil': mongoose.trusted({ $lt: now }),
    });
    const claim = (now: Date, filter: object) =>
      this.model
        .findOneAndUpdate(
          { ...filter, ...due(now) },
          { $set: { 'outbox.claimedUntil': new Date(now.getTime() + claimMs) } },
          { returnDocument: 'after' },
        )
        .lean<BookDocument>();
    const claimed: OutboxEntry[] = [];
    if (this.locks) {
      // Each mark is claimed holding its book; a book being written now is left for the next sweep.
      const locks = this.locks;
      const candidates = await this.model.find(due(new Date()), { _id: 1 }).limit(limit).lean<BookDocument[]>();
      for (const { _id } of candidates) {
        const doc = await locks.tryHold(_id, () => claim(new Date(), { _id }));
        if (doc?.outbox) claimed.push(toOutboxEntry(doc, doc.outbox));
      }
      return claimed;
    }
    while (claimed.length < limit) {
      const doc = await claim(new Date(), {});
      if (!doc?.outbox) break;
      claimed.push(toOutboxEntry(doc, doc.outbox));
    }
    return claimed;
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

function definedOnly<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}

function toOutboxEntry(doc: BookDocument, outbox: NonNullable<BookDocument['outbox']>): OutboxEntry {
  return {
    id: doc._id.toHexString(),
    version: doc.version,
    op: outbox.op,
    names: [...new Set([doc.name, ...(doc.recentNames ?? [])])],
    at: (outbox.first ?? outbox.at).getTime(),
  };
}
