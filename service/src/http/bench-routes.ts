import { GCProfiler, getHeapStatistics } from 'node:v8';
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

/**
 * Exact invalidation lags (the histogram's buckets are too coarse to compare with a floor): from
 * the message's publishedAt, and from the write's committedAt (the bench sets it when it hands
 * the change over, so this one starts where a peer's clock does).
 */
export class LagSamples {
  private samples: number[] = [];
  private sinceCommit: number[] = [];
  private heap?: { profiler: GCProfiler; usedAtStart: number; messages: number };

  record(seconds: number, sinceCommitSeconds: number | undefined): void {
    if (this.samples.length >= 2_000_000) return;
    this.samples.push(seconds);
    if (sinceCommitSeconds !== undefined) this.sinceCommit.push(sinceCommitSeconds);
    if (this.heap) this.heap.messages += 1;
  }

  /** Everything recorded since the last take, and the bytes allocated on the heap since then. */
  take(): { seconds: number[]; sinceCommit: number[]; allocatedBytes: number; messages: number } {
    const taken = { seconds: this.samples, sinceCommit: this.sinceCommit, ...this.allocated() };
    this.samples = [];
    this.sinceCommit = [];
    return taken;
  }

  /**
   * Bytes allocated on the V8 heap since the last take: what every garbage collection freed plus
   * how much more is in use (V8 keeps no running total of its own).
   */
  private allocated(): { allocatedBytes: number; messages: number } {
    const previous = this.heap;
    const profiler = new GCProfiler();
    profiler.start();
    this.heap = { profiler, usedAtStart: getHeapStatistics().used_heap_size, messages: 0 };
    if (!previous) return { allocatedBytes: 0, messages: 0 };
    const collections = previous.profiler.stop()?.statistics ?? [];
    const freed = collections.reduce(
      (sum, gc) => sum + gc.beforeGC.heapStatistics.usedHeapSize - gc.afterGC.heapStatistics.usedHeapSize,
      0,
    );
    const used = this.heap.usedAtStart - previous.usedAtStart;
    return { allocatedBytes: Math.max(0, freed + used), messages: previous.messages };
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
    ctx.body = lags.take();
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
