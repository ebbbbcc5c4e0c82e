import type { CacheScope, InvalidationMessage } from '../../../packages/core/src/sync/envelope';
import { isKeyOfBook } from '../../src/books/keys';

export const sampleMessage = (overrides: Partial<InvalidationMessage> = {}): InvalidationMessage => ({
  v: 1,
  cache: 'book',
  keys: ['id:6566f0c1a1b2c3d4e5f60718', 'name:Dune'],
  id: '6566f0c1a1b2c3d4e5f60718',
  version: 4,
  op: 'update',
  origin: 'book-1',
  epoch: 'a1b2c3',
  seq: 17,
  committedAt: 1764000000000.25,
  publishedAt: 1764000000001.5,
  traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
  ...overrides,
});

/** The book cache's scope, as the wiring gives it to the subscriber. */
export const BOOK_SCOPE: CacheScope = { name: 'book', isKeyOf: isKeyOfBook };
