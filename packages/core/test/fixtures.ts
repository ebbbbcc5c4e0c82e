import { randomBytes } from 'node:crypto';
import type { CacheScope, InvalidationMessage } from '../src/sync/envelope';

/** A valid invalidation of one record under two keys (by id and by name), as a publisher would send it. */
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

/** A key scheme like the Book service's: one key by id, any number by name. */
export const SCOPE: CacheScope = {
  name: 'book',
  isKeyOf: (key, id) => key === `id:${id}` || key.startsWith('name:'),
};

/** A name no other test uses: a channel, a database, a replica. */
export const uniqueName = (prefix: string) => `${prefix}-${randomBytes(4).toString('hex')}`;
