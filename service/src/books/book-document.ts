import mongoose, { Schema, type Types } from 'mongoose';
import type { Book } from './book';

/** A book as MongoDB stores it: the book, its version history, and its outbox mark. */
export interface BookDocument {
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

export const NAMES_KEPT = 4;
// Filters built here, not from client input, so they are exempt from sanitizeFilter.
export const live = () => ({ deletedAt: mongoose.trusted({ $exists: false }) });

/**
 * How many write times a book keeps: enough to date the first version a stale entry missed.
 * MongoDB applies the $slice that keeps it so; FerretDB v1 ignores $slice, so there the update
 * that finds the array at twice this trims it, under the book's write lock (reads use the last
 * entries only). Unbounded, every book grew by a date a write, and as FerretDB v1 parses every
 * document a query scans, its CPU climbed with the run's age until a 10-minute chaos run stalled.
 */
export const WRITE_TIMES_KEPT = 8;

/** When version `version` of a book was written, as far as its kept write times tell. */
export interface VersionHistory {
  version: number;
  updatedAt: number;
  /** Write time of `version - i` at index `length - 1 - i`. */
  writeTimes: number[];
}

/** When a recent version was acknowledged to its writer's client (not every version has one). */
export interface Acknowledged {
  version: number;
  at: number;
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

/**
 * When a version after `version` was first known to a client: the earliest acknowledgment of one,
 * or, for one never acknowledged (its writer died, its client gave up), `ackWaitMs` after its
 * commit, when a reader may have seen it. Undefined while nothing newer exists.
 */
export function firstKnownAfter(
  history: VersionHistory,
  acknowledged: readonly Acknowledged[],
  version: number,
  ackWaitMs: number,
): number | undefined {
  const committed = firstWriteAfter(history, version);
  if (committed === undefined) return undefined;
  const acks = acknowledged.filter((a) => a.version > version).map((a) => a.at);
  return Math.min(committed + ackWaitMs, ...acks);
}

export const bookSchema = new Schema<BookDocument>(
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
bookSchema.index({ author: 1 });

export const toBook = (doc: BookDocument): Book => ({
  id: doc._id.toHexString(),
  name: doc.name,
  author: doc.author,
  year: doc.year,
  version: doc.version,
  updatedAt: doc.updatedAt.toISOString(),
});

/** The defined fields of a patch: what it sets. */
export function definedOnly<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
