import { z } from 'zod';

/** A book as the API and the cache see it (a contract: docs/operations.md#the-api). */
export interface Book {
  readonly id: string;
  readonly name: string;
  readonly author: string;
  readonly year: number;
  /** Incremented atomically by every write. */
  readonly version: number;
  readonly updatedAt: string;
}

/**
 * The books of one author as one cache entry (`GET /books?author=`), tagged with the author and
 * with each book it holds, so any write of one of them, or of a new book by that author, evicts
 * it on every replica. It has no version of its own: tags evict it, never a key invalidation.
 */
export interface AuthorBooks {
  readonly id: string;
  readonly version: 0;
  readonly author: string;
  readonly books: readonly Book[];
}

/** What the book cache holds: books (by id and by name) and author lists. */
export type Cached = Book | AuthorBooks;

export const isAuthorBooks = (value: Cached): value is AuthorBooks => 'books' in value;

/** Books one author list holds at most (each is a tag of the entry, beside the author). */
export const MAX_BOOKS_PER_AUTHOR = 50;

const name = z.string().trim().min(1).max(200);
const author = z.string().trim().min(1).max(200);
const year = z.number().int().min(-5000).max(9999);

export const bookInputSchema = z.strictObject({ name, author, year });
export const bookPatchSchema = z
  .strictObject({ name: name.optional(), author: author.optional(), year: year.optional() })
  .refine((patch) => Object.values(patch).some((value) => value !== undefined), {
    message: 'at least one of name, author, year is required',
  });

export type BookInput = z.infer<typeof bookInputSchema>;
export type BookPatch = z.infer<typeof bookPatchSchema>;

export const BOOK_ID_PATTERN = /^[0-9a-f]{24}$/;
