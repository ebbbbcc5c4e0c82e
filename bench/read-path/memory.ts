import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { LocalCache } from '@local-cache-sync/core/testing';
import type { Book } from '../../service/src/books/book';
import { SAMPLE_BOOK } from './clone-cost';

export interface MemoryResult {
  entries: number;
  /** Heap per entry: the book object itself, and what the cache adds to hold it (keys, node-cache's wrapper, write order). */
  bookBytesPerEntry: number;
  cacheBytesPerEntry: number;
  /** After writing 20 % more distinct keys than CACHE_MAX_KEYS. */
  sizeAfterOverfill: number;
  capacityEvictions: number;
}

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

function heapAfterGc(): number {
  for (let i = 0; i < 3; i += 1) gc();
  return process.memoryUsage().heapUsed;
}

/** Bytes per cached book at `entries` entries, and that max keys holds when more are written. */
export function memoryBench(entries = 100_000): MemoryResult {
  const base = heapAfterGc();
  const books: Book[] = Array.from({ length: entries }, (_, i) => ({
    ...SAMPLE_BOOK,
    id: i.toString(16).padStart(24, '0'),
    name: `${SAMPLE_BOOK.name} #${i}`,
  }));
  const withBooks = heapAfterGc();
  let capacityEvictions = 0;
  const events = {
    onEvict: (_key: string, _value: Book, reason: string) => {
      if (reason === 'capacity') capacityEvictions += 1;
    },
  };
  const cache = new LocalCache<Book>({ ttlSeconds: 300, maxKeys: entries, checkPeriodSeconds: 0, events });
  for (const book of books) cache.set(`id:${book.id}`, book);
  const withCache = heapAfterGc();
  const result = {
    entries: cache.size,
    bookBytesPerEntry: (withBooks - base) / entries,
    cacheBytesPerEntry: (withCache - withBooks) / entries,
    sizeAfterOverfill: 0,
    capacityEvictions: 0,
  };
  for (let i = 0; i < entries / 5; i += 1) {
    const id = (entries + i).toString(16).padStart(24, '0');
    cache.set(`id:${id}`, { ...SAMPLE_BOOK, id });
  }
  result.sizeAfterOverfill = cache.size;
  result.capacityEvictions = capacityEvictions;
  cache.close();
  books.length = 0;
  return result;
}
