import { bodyParser } from '@koa/bodyparser';
import Router from '@koa/router';
import Koa, { type Context } from 'koa';
import type { Logger } from 'pino';
import type { z } from 'zod';
import { BOOK_ID_PATTERN, type Book, bookInputSchema, bookPatchSchema } from '../books/book';
import { DuplicateNameError } from '../books/book-repository';
import type { BookService, CacheStatus, Read } from '../books/book-service';
import { badRequest, errorMiddleware, HttpError, notFound, validationError } from './errors';
import { type RequestTraced, requestSpans } from './request-spans';
import { type RequestObserver, requestTiming } from './request-timing';

export interface ReadinessCheck {
  name: string;
  check(): Promise<void>;
}

export interface AppOptions {
  replicaId: string;
  books: BookService;
  logger: Logger;
  /** The /metrics body for a scraper's Accept header. */
  metrics(accept: string | undefined): Promise<{ contentType: string; body: string }>;
  onRequest?: RequestObserver;
  /** With it, traced requests get a SERVER span (see request-spans.ts). */
  traced?: RequestTraced;
  readiness: ReadinessCheck[];
  maxBodyBytes: number;
  /** More routes behind the same middleware (the bench-only read paths). */
  extraRoutes?: Router;
}

/** The Koa app of one replica, without listening (main.ts and the tests own the server). */
export function createApp(options: AppOptions): Koa {
  const { books, replicaId } = options;
  const app = new Koa();
  const router = new Router();

  if (options.traced) app.use(requestSpans(options.traced));
  if (options.onRequest) app.use(requestTiming(options.onRequest));
  app.use(async (ctx, next) => {
    ctx.set('X-Replica', replicaId);
    await next();
  });
  app.use(errorMiddleware(options.logger));
  app.use(requireJsonBody);
  app.use(bodyParser({ enableTypes: ['json'], jsonLimit: options.maxBodyBytes, jsonStrict: true }));

  const respond = (ctx: Context, book: Book, cache: CacheStatus, status = 200) => {
    ctx.set('X-Cache', cache);
    ctx.set('ETag', etagOf(book.version));
    ctx.status = status;
    ctx.body = book;
  };

  router.post('/books', async (ctx) => {
    const input = parseBody(ctx, bookInputSchema);
    respond(ctx, await guardDuplicate(books.create(input)), 'MISS', 201);
  });

  const markStale = (ctx: Context, read: Read<unknown>) => {
    if (!read.stale) return;
    // RFC 9111 Age, in whole seconds; the reason names why an old value was answered on purpose.
    ctx.set('Age', String(Math.floor(read.stale.ageMs / 1000)));
    ctx.set('X-Cache-Stale-Reason', read.stale.reason);
  };

  const respondRead = (ctx: Context, read: Read | null, what: string) => {
    if (!read) throw notFound(`no book with that ${what}`);
    respond(ctx, read.book, read.cache);
    markStale(ctx, read);
    // If-None-Match names the version served: 304, no body (Koa compares it with the ETag).
    if (ctx.fresh) ctx.status = 304;
    if (read.cache === 'HIT') {
      const servedAt = Date.now();
      const socket = ctx.req.socket;
      // A client that gave up before the answer (a timed-out request queued in a paused process)
      // has closed its end: its EOF is read right after the request, so it is known one turn later.
      ctx.res.once('finish', () => books.auditHit(read.book, servedAt, () => !socket.readableEnded));
    }
  };

  router.get('/books', async (ctx) => {
    const query = listQuery(ctx);
    if ('name' in query) return respondRead(ctx, await books.getByName(query.name), 'name');
    const read = await books.listByAuthor(query.author);
    ctx.set('X-Cache', read.cache);
    markStale(ctx, read);
    ctx.body = { author: read.book.author, books: read.book.books };
  });
  router.get('/books/:id', async (ctx) => respondRead(ctx, await books.getById(bookId(ctx)), 'id'));

  const update = (schema: typeof bookInputSchema | typeof bookPatchSchema) => async (ctx: Context) => {
    const id = bookId(ctx);
    const changes = parseBody(ctx, schema);
    const book = await guardDuplicate(books.update(id, changes, ifMatch(ctx)));
    if (!book) throw notFound('no book with that id');
    respond(ctx, book, 'MISS');
    const socket = ctx.req.socket;
    // Acknowledged only if the client is still there to read it (see respondRead).
    ctx.res.once('finish', () => {
      const at = Date.now();
      setImmediate(() => !socket.readableEnded && books.acknowledged(book, at));
    });
  };
  router.put('/books/:id', update(bookInputSchema));
  router.patch('/books/:id', update(bookPatchSchema));

  router.delete('/books/:id', async (ctx) => {
    const book = await books.delete(bookId(ctx), ifMatch(ctx));
    if (!book) throw notFound('no book with that id');
    ctx.set('X-Cache', 'MISS');
    ctx.body = { id: book.id, version: book.version, deleted: true };
  });

  router.get('/healthz', (ctx) => {
    ctx.body = { status: 'ok', replica: replicaId };
  });

  router.get('/readyz', async (ctx) => {
    const results = await Promise.all(
      options.readiness.map(async ({ name, check }) => {
        try {
          await check();
          return [name, 'ok'] as const;
        } catch (error) {
          return [name, (error as Error).message || 'failed'] as const;
        }
      }),
    );
    const ready = results.every(([, status]) => status === 'ok');
    ctx.status = ready ? 200 : 503;
    ctx.body = { status: ready ? 'ready' : 'not_ready', checks: Object.fromEntries(results) };
  });

  router.get('/metrics', async (ctx) => {
    const { contentType, body } = await options.metrics(ctx.get('Accept'));
    ctx.type = contentType;
    ctx.body = body;
  });

  app.use(router.routes());
  if (options.extraRoutes) app.use(options.extraRoutes.routes());
  app.use(router.allowedMethods({ throw: true, methodNotAllowed: () => methodNotAllowed() }));
  return app;
}

const methodNotAllowed = () => new HttpError(405, 'method_not_allowed', 'method not allowed on this route');

/** Write routes take JSON only: anything else would reach the handler as an empty body. */
const requireJsonBody: Koa.Middleware = async (ctx, next) => {
  if (['POST', 'PUT', 'PATCH'].includes(ctx.method) && ctx.request.length !== 0 && !ctx.is('application/json')) {
    throw new HttpError(415, 'unsupported_media_type', 'request body must be application/json');
  }
  await next();
};

/** A book version as a strong entity tag. */
const etagOf = (version: number) => `"${version}"`;

/** The version `If-Match` requires, if any: one strong tag, or `*` (any version: no condition). */
function ifMatch(ctx: Context): number | undefined {
  const header = ctx.get('If-Match').trim();
  if (header === '' || header === '*') return undefined;
  const match = /^"(\d{1,15})"$/.exec(header);
  if (!match) throw badRequest('invalid_precondition', 'If-Match must be one strong entity tag such as "3", or *');
  return Number(match[1]);
}

export function bookId(ctx: Context): string {
  const id = ctx.params.id ?? '';
  if (!BOOK_ID_PATTERN.test(id)) throw badRequest('invalid_id', 'id must be 24 lowercase hex characters');
  return id;
}

/**
 * `GET /books` takes exactly one of `name` (the book of that name) or `author` (that author's
 * books), one plain string: `name[$ne]=x` or repeated parameters are refused, not interpreted.
 */
function listQuery(ctx: Context): { name: string } | { author: string } {
  const unknown = Object.keys(ctx.query).filter((key) => key !== 'name' && key !== 'author');
  if (unknown.length > 0) {
    const named = unknown.slice(0, 3).map((key) => key.slice(0, 40));
    const more = unknown.length > 3 ? ` and ${unknown.length - 3} more` : '';
    throw badRequest('invalid_query', `unknown query parameter(s): ${named.join(', ')}${more}`);
  }
  const given = (['name', 'author'] as const).filter((key) => key in ctx.query);
  if (given.length !== 1)
    throw badRequest('invalid_query', 'exactly one of the query parameters name or author is required');
  const key = given[0]!;
  const value = ctx.query[key];
  if (typeof value !== 'string' || value.trim() === '') {
    throw badRequest('invalid_query', `query parameter ${key} must be given exactly once, not empty`);
  }
  if (value.length > 200) throw badRequest('invalid_query', `${key} is at most 200 characters`);
  return key === 'name' ? { name: value } : { author: value };
}

function parseBody<T extends z.ZodType>(ctx: Context, schema: T): z.infer<T> {
  const body = (ctx.request as { body?: unknown }).body;
  if (body === undefined || body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw badRequest('invalid_body', 'request body must be a JSON object');
  }
  const parsed = schema.safeParse(body);
  if (!parsed.success) throw validationError(parsed.error);
  return parsed.data;
}

async function guardDuplicate<T>(write: Promise<T>): Promise<T> {
  try {
    return await write;
  } catch (error) {
    if (error instanceof DuplicateNameError) throw new HttpError(409, 'duplicate_name', error.message);
    throw error;
  }
}
