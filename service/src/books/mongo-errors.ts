/**
 * MongoDB reports a unique-index violation as code 11000. FerretDB v1 on SQLite does too for
 * inserts, but reports findAndModify's as InternalError with SQLite's message, so match both.
 */
export const isDuplicateKey = (error: unknown): boolean => {
  const { code, message } = error as { code?: number; message?: string };
  return code === 11000 || (code === 1 && /UNIQUE constraint failed/.test(message ?? ''));
};

/** Errors after a write was sent, with no answer: a timeout or a connection lost mid-write. */
export const isUnknownOutcome = (error: unknown): boolean =>
  /^Mongo(Network|NetworkTimeout)Error$/.test((error as { name?: string }).name ?? '');
