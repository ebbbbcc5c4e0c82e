import type { CacheScope } from '@local-cache-sync/core/wire';
import { isKeyOfBook } from '../../src/books/keys';
import type { HistoryEvent } from '../../src/probe/history';

export { sampleMessage } from '../../../packages/core/test/fixtures';

/** The book cache's scope, as the wiring gives it to the subscriber. */
export const BOOK_SCOPE: CacheScope = { name: 'book', isKeyOf: isKeyOfBook };

/** A read of a client history, answered 1 ms after it was sent (undefined version: it failed). */
export const historyRead = (
  replica: string,
  id: string,
  sentAt: number,
  version?: number,
  hit?: boolean,
): HistoryEvent => ({
  op: 'read',
  replica,
  id,
  sentAt,
  receivedAt: sentAt + 1,
  version,
  hit,
});

/** A write of a client history through book-2, acknowledged 5 ms after it was sent. */
export const historyWrite = (id: string, sentAt: number, version?: number): HistoryEvent => ({
  op: 'write',
  replica: 'book-2',
  id,
  sentAt,
  receivedAt: sentAt + 5,
  version,
});
