import mongoose, { type Connection, type Model, Schema, Types } from 'mongoose';
import { WRITE_TIMES_KEPT } from './book-document';

/** Version `v` of book `book` was answered to the client that wrote it at `at`. */
interface AckSlot {
  _id: string;
  book: Types.ObjectId;
  v: number;
  at: Date;
}
const slotSchema = new Schema<AckSlot>(
  { _id: { type: String, required: true }, book: Schema.Types.ObjectId, v: Number, at: Date },
  { versionKey: false },
);

const slotOf = (book: string, version: number) => `${book}:${version % WRITE_TIMES_KEPT}`;
const slotsOf = (book: string) => Array.from({ length: WRITE_TIMES_KEPT }, (_, i) => `${book}:${i}`);

/**
 * When each of a book's last updates was acknowledged to its client, for the stale audit. A
 * collection of its own with WRITE_TIMES_KEPT slots a book (version v in slot v mod that): a
 * record is one upsert that touches no book, so it needs no book's write lock, and the collection
 * stays bounded without a TTL index (FerretDB v1 has none).
 */
export class WriteAcks {
  private readonly model: Model<AckSlot>;

  constructor(connection: Connection) {
    this.model = connection.model<AckSlot>('BookWriteAck', slotSchema, 'book_write_acks');
  }

  async record(book: string, version: number, at: number): Promise<void> {
    await this.model.replaceOne(
      { _id: slotOf(book, version) },
      { book: new Types.ObjectId(book), v: version, at: new Date(at) },
      { upsert: true },
    );
  }

  /** The acknowledgments kept of `book`'s last updates (not every version has one). */
  async of(book: string): Promise<{ version: number; at: number }[]> {
    const slots = await this.model.find({ _id: mongoose.trusted({ $in: slotsOf(book) }) }).lean<AckSlot[]>();
    return slots.map((slot) => ({ version: slot.v, at: slot.at.getTime() }));
  }

  /** The book is gone: its slots go too. */
  async forget(book: string): Promise<void> {
    await this.model.deleteMany({ _id: mongoose.trusted({ $in: slotsOf(book) }) });
  }
}
