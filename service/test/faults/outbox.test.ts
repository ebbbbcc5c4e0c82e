import { waitFor } from '../../local-stack/processes';
import { type Stack, startStack } from '../../local-stack/stack';
import { BookRepository } from '../../src/books/book-repository';

/**
 * Crash after commit, before publish, in a safer mode: the write's outbox mark (set in the same
 * MongoDB operation) is found by another replica's sweeper, which publishes the invalidation the
 * crashed replica never sent. In pubsub mode the same fault leaves stale entries until TTL
 * (fault-matrix.test.ts); here the TTL is 300 s, so only the outbox can end them.
 */
describe.each(['pubsub-flush', 'stream'] as const)('outbox in %s mode', (syncMode) => {
  let stack: Stack;
  afterAll(async () => {
    await stack?.stop();
  });

  it('republishes the crashed write, and the other replicas serve the committed version long before TTL', async () => {
    stack = await startStack({ ttlSeconds: 300, syncMode, mongoUri: process.env.MONGODB_URI, seed: 300 });
    await waitFor(() => stack.probe.summary().replicas.every((r) => r.reads >= 60), {
      timeoutMs: 20_000,
      message: 'warm caches',
    });
    // Quiet traffic, so that no later write of the same book supersedes the orphaned one.
    stack.probe.stop();
    await stack.probe.done;
    const [crashing, ...others] = stack.replicas as [Stack['replicas'][0], ...Stack['replicas']];
    const { id } = stack.probe.books[0]!;
    for (const replica of others) {
      await fetch(`${replica.url}/books/${id}`);
      expect((await fetch(`${replica.url}/books/${id}`)).headers.get('x-cache')).toBe('HIT');
    }
    const cachedVersion = ((await (await fetch(`${others[0]!.url}/books/${id}`)).json()) as { version: number })
      .version;

    expect((await crashing.chaos('crash-before-publish')).status).toBe(200);
    const crashedAt = Date.now();
    await fetch(`${crashing.url}/books/${id}`, {
      method: 'PATCH',
      headers: { 'content-type': 'application/json' },
      body: '{"year":1}',
    }).catch(
      () => undefined, // the replica dies before answering
    );
    await waitFor(() => !crashing.alive(), { message: 'crashed after the commit' });

    await waitFor(
      async () => (await Promise.all(others.map((r) => r.metric('cache_outbox_republished_total')))).some((n) => n > 0),
      {
        message: 'a survivor republished the orphaned invalidation',
      },
    );
    const republishedAfterMs = Date.now() - crashedAt;
    expect(republishedAfterMs).toBeLessThan(10_000);

    const repository = await BookRepository.connect(stack.databaseUri, { outbox: true });
    try {
      const committed = (await repository.findById(id))!.version;
      expect(committed).toBe(cachedVersion + 1);
      for (const replica of others) {
        const served = (await (await fetch(`${replica.url}/books/${id}`)).json()) as { version: number };
        expect([replica.id, served.version]).toEqual([replica.id, committed]);
      }
      expect(await repository.claimOutbox(Date.now() + 60_000, 1)).toEqual([]);
    } finally {
      await repository.close();
    }
    console.log(
      `${syncMode}: the crashed write was republished from the outbox ${republishedAfterMs} ms after the crash`,
    );
  }, 90_000);
});
