import mongoose, { type Model, Types } from 'mongoose';
import type { BookDocument } from './book-document';
import type { WriteLocks } from './write-locks';

/** A write whose invalidation may not have been published (its replica died, or Redis was away). */
export interface OutboxEntry {
  id: string;
  version: number;
  op: 'create' | 'update' | 'delete';
  names: string[];
  at: number;
}

/**
 * The outbox marks on the books: the invalidations a write may not have published. Settled by the
 * writer once published, expedited when its publish failed, claimed by one replica's sweeper when
 * left too long. Every operation that rewrites a book holds it where the store needs that.
 */
export class OutboxMarks {
  constructor(
    private readonly model: Model<BookDocument>,
    private readonly exclusively: <T>(id: string, write: () => Promise<T>) => Promise<T>,
    private readonly locks?: WriteLocks,
  ) {}

  /** The writer could not publish: make the mark claimable by any replica's sweeper at once. */
  async expedite(id: string, version: number): Promise<void> {
    await this.exclusively(id, () =>
      this.model.updateOne(
        { _id: new Types.ObjectId(id), version },
        { $set: { 'outbox.at': new Date(0), 'outbox.claimedUntil': new Date(0) } },
      ),
    );
  }

  /** The invalidation of this write is published: clear its outbox mark (and finish a deletion). */
  async settle(id: string, version: number, op: OutboxEntry['op']): Promise<void> {
    const filter = { _id: new Types.ObjectId(id), version };
    await this.exclusively(id, async () => {
      if (op === 'delete') await this.model.deleteOne(filter);
      else await this.model.updateOne(filter, { $unset: { outbox: 1 } });
    });
  }

  /** Every outbox mark, claimed or not, without touching it: writes that may still be unannounced. */
  async pending(limit = 1000): Promise<OutboxEntry[]> {
    const docs = await this.model
      .find({ outbox: mongoose.trusted({ $exists: true }) })
      .limit(limit)
      .lean<BookDocument[]>();
    return docs.flatMap((doc) => (doc.outbox ? [toOutboxEntry(doc, doc.outbox)] : []));
  }

  /** Claims up to `limit` outbox marks older than `olderThan` for `claimMs`, so one replica republishes each. */
  async claim(olderThan: number, claimMs: number, limit = 100): Promise<OutboxEntry[]> {
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
