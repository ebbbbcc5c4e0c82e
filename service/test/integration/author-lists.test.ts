import { waitFor } from '../../local-stack/processes';
import { http, metricValue, type RunningReplica, startCluster, uniqueName } from '../harness/replicas';

interface AuthorList {
  author: string;
  books: { id: string; name: string; year: number; version: number }[];
}

/**
 * `GET /books?author=`: one cache entry per author, tagged with the author and with each book it
 * holds, so that every change to one of its books (or a new book of its author) evicts it on
 * every replica, through a tag invalidation beside the book's key invalidation.
 */
describe('the cached author list, evicted by tag on every replica', () => {
  let replicas: RunningReplica[] = [];
  afterAll(async () => {
    await Promise.all(replicas.map((r) => r.stop()));
  });

  it('is cached, and evicted on the other replica by an update, a create, a change of author and a delete', async () => {
    replicas = await startCluster(2, { SYNC_MODE: 'stream', INVALIDATION_CHANNEL: uniqueName('book-channel') });
    const [a, b] = replicas as [RunningReplica, RunningReplica];
    const author = uniqueName('Le Guin');
    const other = uniqueName('Herbert');
    const create = async (name: string, by = author) =>
      (await http('POST', `${a.url}/books`, { name: uniqueName(name), author: by, year: 1969 })).json.id as string;
    const list = async (replica: RunningReplica, by = author) => {
      const response = await http('GET', `${replica.url}/books?author=${encodeURIComponent(by)}`);
      const body = response.json as unknown as AuthorList;
      return { cache: response.headers.get('x-cache'), books: body.books.map((book) => [book.id, book.year]) };
    };
    /** Waits until b's list is evicted (its next read is a MISS) and answers that read. */
    const afterEviction = async (by = author) => {
      let read: Awaited<ReturnType<typeof list>> | undefined;
      await waitFor(
        async () => {
          read = await list(b, by);
          return read.cache === 'MISS';
        },
        { message: `b's list of ${by} evicted` },
      );
      return read!;
    };
    const first = await create('Left Hand');
    expect(await list(b)).toEqual({ cache: 'MISS', books: [[first, 1969]] });
    expect(await list(b)).toEqual({ cache: 'HIT', books: [[first, 1969]] });

    await http('PATCH', `${a.url}/books/${first}`, { year: 1970 });
    expect(await afterEviction()).toEqual({ cache: 'MISS', books: [[first, 1970]] });

    const second = await create('Lathe');
    const listed = await afterEviction();
    expect(listed.books.map(([id]) => id).sort()).toEqual([first, second].sort());

    // Moving a book to another author evicts both lists: the old one by the book's tag, the new one by its author's.
    expect(await list(b, other)).toEqual({ cache: 'MISS', books: [] });
    await http('PATCH', `${a.url}/books/${second}`, { author: other });
    expect((await afterEviction()).books).toEqual([[first, 1970]]);
    expect((await afterEviction(other)).books).toEqual([[second, 1969]]);

    await http('DELETE', `${a.url}/books/${first}`);
    expect((await afterEviction()).books).toEqual([]);
    expect(await metricValue(b, 'cache_tag_invalidations_total', { kind: 'tags', source: 'remote' })).toBe(5);
    expect(await metricValue(a, 'cache_tag_invalidations_total', { kind: 'tags', source: 'local' })).toBe(5);
    expect(await metricValue(b, 'cache_invalidations_missed_total')).toBe(0);
  });

  it('refuses a query with both name and author, or an empty author, with a clear error', async () => {
    const [a] = replicas as [RunningReplica];
    for (const [query, message] of [
      ['name=x&author=y', 'exactly one of the query parameters name or author is required'],
      ['author=', 'query parameter author must be given exactly once, not empty'],
      ['author=a&author=b', 'query parameter author must be given exactly once, not empty'],
      [`author=${'x'.repeat(201)}`, 'author is at most 200 characters'],
    ]) {
      const response = await http('GET', `${a.url}/books?${query}`);
      expect([response.status, (response.json.error as { message: string }).message]).toEqual([400, message]);
    }
  });
});
