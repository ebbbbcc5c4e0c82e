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
