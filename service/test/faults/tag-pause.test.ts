import type { SyncMode } from '@local-cache-sync/core';
import { heal, pauseUntilCut } from '../../local-stack/faults';
import { waitFor } from '../../local-stack/processes';
import { type Stack, startStack } from '../../local-stack/stack';

interface AuthorList {
  books: { id: string; year: number }[];
}

const post = (url: string, body: unknown, method = 'POST') =>
  fetch(url, { method, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

/**
 * The author list (`GET /books?author=`), a tagged entry, when the tag invalidation that should
 * evict it is lost: the replica holding it is paused (SIGSTOP) until Redis cuts its subscriber at
 * the Pub/Sub output-buffer limit, a book of the list is written, and the replica resumes.
 */
describe.each(['pubsub', 'stream'] as SyncMode[])('a tag invalidation missed during a pause: %s', (mode) => {
  let stack: Stack | undefined;
  afterAll(async () => {
    await stack?.stop();
  });

  it(mode === 'stream'
    ? 'is counted as missed, replayed from the log, and the list is fresh'
    : 'is counted as missed, and the stale list keeps being served', async () => {
    stack = await startStack({
      ttlSeconds: 300,
      replicas: 2,
      syncMode: mode,
      mongoUri: process.env.MONGODB_URI,
      seed: 503,
      redisArgs: ['--client-output-buffer-limit', 'pubsub 256kb 64kb 1'],
    });
    stack.probe.stop();
    await stack.probe.done;
    const [writer, paused] = stack.replicas as [Stack['replicas'][0], Stack['replicas'][0]];
    const author = `Le Guin ${mode}`;
    const ids: string[] = [];
    for (const name of ['The Dispossessed', 'The Lathe of Heaven']) {
      const created = await post(`${writer.url}/books`, { name: `${name} ${mode}`, author, year: 1971 });
      ids.push(((await created.json()) as { id: string }).id);
    }
    const list = async () => {
      const response = await fetch(`${paused.url}/books?author=${encodeURIComponent(author)}`);
      const body = (await response.json()) as AuthorList;
      return { cache: response.headers.get('x-cache'), years: body.books.map((b) => b.year) };
    };
    await waitFor(async () => (await paused.metric('cache_sync_trusted')) === 1, { message: 'trusted' });
    await waitFor(async () => (await list()).cache === 'HIT', { message: 'the list cached on the paused replica' });
    expect(await list()).toEqual({ cache: 'HIT', years: [1971, 1971] });
    const missedBefore = await paused.metric('cache_invalidations_missed_total');
    const tagsBefore = await paused.metric('cache_tag_invalidations_total', { kind: 'tags', source: 'remote' });

    // Expected: the replica misses the write's key and tag invalidations (Redis drops its
    // subscriber while it is paused); once resumed it counts them as missed. In pubsub mode
    // nothing repairs that: it serves the list with the old year until the TTL (300 s). In
    // stream mode it replays both from the log: the list is evicted and read fresh.
    await pauseUntilCut(stack, 1);
    expect((await post(`${writer.url}/books/${ids[0]}`, { year: 1974 }, 'PATCH')).status).toBe(200);
    await heal(stack, 'pause', 1);
    await waitFor(async () => (await paused.metric('cache_invalidations_missed_total')) > missedBefore, {
      timeoutMs: 20_000,
      message: 'the resumed replica counted what it missed',
    });
    await waitFor(
      async () =>
        (await paused.metric('cache_sync_trusted')) === 1 &&
        (await paused.metric('cache_invalidation_subscriber_up')) === 1 &&
        (mode === 'pubsub' || (await paused.metric('cache_invalidations_replayed_total')) >= 2),
      { timeoutMs: 20_000, message: 'the replica back, trusting its cache (stream: after its replay)' },
    );
    const tagsApplied =
      (await paused.metric('cache_tag_invalidations_total', { kind: 'tags', source: 'remote' })) - tagsBefore;
    expect({
      tagsApplied,
      flushes: await paused.metric('cache_evictions_total', { reason: 'flush' }),
      list: await list(),
    }).toEqual(
      mode === 'stream'
        ? { tagsApplied: 1, flushes: 0, list: { cache: 'MISS', years: [1974, 1971] } }
        : { tagsApplied: 0, flushes: 0, list: { cache: 'HIT', years: [1971, 1971] } },
    );
  }, 180_000);
});
