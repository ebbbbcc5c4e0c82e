import Router from '@koa/router';
import type { Book, BookInput } from '../books/book';
import type { BookRepository } from '../books/book-repository';
import { bookId } from './app';
import { notFound } from './errors';

/** The book `make bench` reads; the constant route returns one of exactly its shape and size. */
export const BENCH_BOOK: BookInput = {
  name: 'The Left Hand of Darkness (bench)',
  author: 'Ursula K. Le Guin',
  year: 1969,
};

/** Exact publish-to-evict lags (the histogram's buckets are too coarse to compare with a floor). */
export class LagSamples {
  private samples: number[] = [];

  record(seconds: number): void {
    if (this.samples.length < 2_000_000) this.samples.push(seconds);
  }

  /** Everything recorded since the last take. */
  take(): number[] {
    const taken = this.samples;
    this.samples = [];
    return taken;
  }
}

/** A shared cache in Redis, as the bench's "global cache" read path uses it. */
export interface GlobalCache {
  get(key: string): Promise<string | null>;
  set(key: string, value: string, ttlSeconds: number): Promise<unknown>;
}

/**
 * Bench-only read paths (BENCH_ROUTES=1), behind the same middleware as GET /books/:id, so
 * `make bench` compares only where the book comes from: a global cache in Redis (GET and
 * JSON.parse, as a shared cache would), MongoDB on every read, or a constant (Koa's own floor);
 * and the exact invalidation lags seen since the last take.
 */
export function benchRoutes(repository: BookRepository, globalCache: GlobalCache, lags: LagSamples): Router {
  const router = new Router({ prefix: '/bench' });
  const constant: Book = Object.freeze({
    ...BENCH_BOOK,
    id: '0'.repeat(24),
    version: 1,
    updatedAt: new Date(0).toISOString(),
  }) as Book;

  router.post('/lag/take', (ctx) => {
    ctx.body = { seconds: lags.take() };
  });

  router.get('/constant', (ctx) => {
    ctx.set('X-Cache', 'HIT');
    ctx.body = constant;
  });

  router.get('/redis/books/:id', async (ctx) => {
    const id = bookId(ctx);
    const key = `bench:book:${id}`;
    const cached = await globalCache.get(key);
    if (cached !== null) {
      ctx.set('X-Cache', 'HIT');
      ctx.body = JSON.parse(cached) as Book;
      return;
    }
    const book = await repository.findById(id);
    if (!book) throw notFound('no book with that id');
    await globalCache.set(key, JSON.stringify(book), 300);
    ctx.set('X-Cache', 'MISS');
    ctx.body = book;
  });

  router.get('/mongo/books/:id', async (ctx) => {
    const book = await repository.findById(bookId(ctx));
    if (!book) throw notFound('no book with that id');
    ctx.set('X-Cache', 'MISS');
    ctx.body = book;
  });
  return router;
}
