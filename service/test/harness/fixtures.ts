import type { CacheScope } from '../../../packages/core/src/sync/envelope';
import { isKeyOfBook } from '../../src/books/keys';

export { sampleMessage } from '../../../packages/core/test/fixtures';

/** The book cache's scope, as the wiring gives it to the subscriber. */
export const BOOK_SCOPE: CacheScope = { name: 'book', isKeyOf: isKeyOfBook };
