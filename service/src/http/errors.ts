import type { Middleware } from 'koa';
import type { Logger } from 'pino';
import type { ZodError } from 'zod';

/** An error the client caused or should know about; rendered as `{error: {code, message}}`. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export const badRequest = (code: string, message: string) => new HttpError(400, code, message);
export const notFound = (message: string) => new HttpError(404, 'not_found', message);

export function validationError(error: ZodError): HttpError {
  const details = error.issues
    .slice(0, 5)
    .map((issue) => {
      const path = issue.path.join('.');
      return path ? `${path}: ${issue.message}` : issue.message;
    })
    .join('; ');
  return badRequest('invalid_body', details);
}

/** Error messages go back to clients at most this long: an echo of hostile input stays small. */
const MAX_MESSAGE = 200;
export const bounded = (message: string) =>
  message.length > MAX_MESSAGE ? `${message.slice(0, MAX_MESSAGE - 3)}...` : message;

type ThrownByLibraries = { status?: number; type?: string; message?: string; code?: string; errno?: number };

/**
 * What the body parser (co-body / raw-body, zlib underneath) and the router throw, as a client
 * error: a corrupt gzip or deflate body, an encoding nobody supports, a method nobody implements.
 */
function fromLibraryError(error: ThrownByLibraries): HttpError | undefined {
  if (error.status === 413) return new HttpError(413, 'body_too_large', 'request body is too large');
  if (error.type === 'encoding.unsupported') {
    return new HttpError(415, 'unsupported_media_type', 'content encoding must be gzip, deflate or identity');
  }
  if (error.status === 415 || error.type === 'unsupported_type') {
    return new HttpError(415, 'unsupported_media_type', 'request body must be application/json');
  }
  if (typeof error.code === 'string' && error.code.startsWith('Z_')) {
    return badRequest('malformed_body', 'request body is not valid gzip or deflate');
  }
  if (error.status === 400) return badRequest('malformed_json', 'request body is not valid JSON');
  if (error.status === 501) return new HttpError(501, 'not_implemented', 'method not implemented');
  if (typeof error.status === 'number' && error.status >= 400 && error.status < 500) {
    return new HttpError(error.status, 'bad_request', bounded(error.message ?? 'bad request'));
  }
  return undefined;
}

/** MongoDB out of reach (a partition, a restart): the client may retry, so 503 rather than 500. */
function fromDatabaseError(error: unknown): HttpError | undefined {
  const name = (error as { name?: string }).name ?? '';
  if (name === 'VersionConflictError') {
    return new HttpError(
      412,
      'precondition_failed',
      'the book is not at the version If-Match names: read it and retry',
    );
  }
  if (name === 'BookBusyError') {
    return new HttpError(503, 'book_busy', 'another write of this book held it too long; try again');
  }
  if (name === 'WriteOutcomeUnknownError') {
    return new HttpError(
      503,
      'write_outcome_unknown',
      'the database did not answer in time: the write may or may not have been applied (it was announced); read the book before retrying',
    );
  }
  if (name === 'LoadTimeoutError') {
    return new HttpError(
      504,
      'database_timeout',
      'the database did not answer the read in time (CACHE_HARD_TIMEOUT_MS); try again',
    );
  }
  if (/^Mongo(ose)?(ServerSelection|Network|NotConnected|NetworkTimeout)Error$/.test(name)) {
    return new HttpError(503, 'database_unavailable', 'the database is unreachable; try again');
  }
  return undefined;
}

export function errorMiddleware(logger: Logger): Middleware {
  return async (ctx, next) => {
    try {
      await next();
      if (ctx.status === 404 && ctx.body === undefined) throw notFound(`no route for ${ctx.method} ${ctx.path}`);
    } catch (error) {
      const known =
        error instanceof HttpError ? error : (fromLibraryError(error as ThrownByLibraries) ?? fromDatabaseError(error));
      if (known) {
        ctx.status = known.status;
        ctx.body = { error: { code: known.code, message: bounded(known.message) } };
        return;
      }
      logger.error({ err: error }, 'request failed');
      ctx.status = 500;
      ctx.body = { error: { code: 'internal_error', message: 'internal error' } };
    }
  };
}
