import { heal, inject } from '../../local-stack/faults';
import { waitFor } from '../../local-stack/processes';
import { type Stack, startStack } from '../../local-stack/stack';

/** The demo's `db-down` fault: one replica cut off MongoDB (its own proxy) while the others work. */
describe('make demo: the database-down fault', () => {
  let stack: Stack;
  afterAll(async () => {
    await stack?.stop();
  });

  it('answers the expired book from fail-safe, marked stale and counted, then fresh after healing', async () => {
    stack = await startStack({
      ttlSeconds: 1,
      replicas: 2,
      databaseProxy: true,
      mongoUri: process.env.MONGODB_URI,
      seed: 401,
    });
    stack.probe.stop();
    await stack.probe.done;
    const [writer, cut] = stack.replicas as [Stack['replicas'][0], Stack['replicas'][0]];
    const { id } = stack.probe.books[0]!;
    const read = async () => {
      const response = await fetch(`${cut.url}/books/${id}`);
      return {
        status: response.status,
        cache: response.headers.get('x-cache'),
        reason: response.headers.get('x-cache-stale-reason'),
        age: Number(response.headers.get('age')),
        version: ((await response.json()) as { version?: number }).version,
      };
    };
    const cached = await read();
    const expired = await cut.metric('cache_evictions_total', { reason: 'expired' });
    await waitFor(async () => (await cut.metric('cache_evictions_total', { reason: 'expired' })) > expired, {
      message: 'the entry expired (TTL 1 s)',
    });

    // Expected: cut off MongoDB, the replica cannot load the book; fail-safe answers the expired
    // value it kept (same version, at least a second old), says so, and counts it: the load
    // fails (load_failed) or, while the driver retries it, passes the 1 s hard timeout. The
    // writer, which still reaches MongoDB, is untouched.
    await inject(stack, 'db-down', 1);
    const stale = await read();
    expect(stale).toEqual({
      status: 200,
      cache: 'STALE',
      reason: expect.stringMatching(/^(load_failed|hard_timeout)$/),
      age: expect.any(Number),
      version: cached.version,
    });
    expect(await cut.metric('cache_stale_served_total', { reason: stale.reason! })).toBe(1);
    expect(await cut.metric('cache_stale_served_total')).toBe(1);
    expect((await fetch(`${writer.url}/books/${id}`)).status).toBe(200);

    await heal(stack, 'db-down', 1);
    await waitFor(async () => (await read()).cache !== 'STALE', {
      timeoutMs: 30_000,
      message: 'fresh answers once MongoDB is back',
    });
    expect(await writer.metric('cache_stale_served_total')).toBe(0);
  });

  it('the probe sees every stale answer marked, and counts it as the service does', async () => {
    await stack?.stop();
    stack = await startStack({
      ttlSeconds: 1,
      replicas: 2,
      databaseProxy: true,
      mongoUri: process.env.MONGODB_URI,
      seed: 402,
      writers: [0],
      // Books written seldom enough (each about every 7 s) that most expire before a write
      // invalidates them: fail-safe keeps expired values only.
      probeKeys: 200,
    });
    const cut = stack.replicas[1]!;
    const probeOf = () => stack.probe.summary().replicas[1]!;
    await waitFor(() => probeOf().reads >= 60, { timeoutMs: 20_000, message: 'warm-up reads' });
    expect(probeOf().markedStale).toBe(0);

    // Expected: with MongoDB cut off, the replica answers the books it kept (expired within 1 s)
    // marked X-Cache: STALE; the probe, reading it, sees each mark. Fail-safe keeps only values
    // no invalidation has reached (serveInvalidated is off): a book written since is not kept, so
    // every marked answer is old in age but still the newest version the probe knows: none is
    // judged stale but for a read that raced a write's invalidation (sent within the
    // millisecond it takes to arrive; a tenth is far more than that race makes). The service counts every stale answer it gave: all to the probe, so the
    // two counts agree, less what the probe gave up on.
    await inject(stack, 'db-down', 1);
    await waitFor(() => probeOf().markedStale >= 20, { timeoutMs: 30_000, message: '20 marked stale reads' });
    await heal(stack, 'db-down', 1);
    stack.probe.stop();
    await stack.probe.done;
    const served = await cut.metric('cache_stale_served_total');
    const probe = probeOf();
    expect(probe.markedStaleJudgedStale).toBeLessThanOrEqual(Math.floor(probe.markedStale / 10));
    expect(served).toBeGreaterThanOrEqual(probe.markedStale);
    expect(served - probe.markedStale).toBeLessThanOrEqual(probe.abandoned);
  });
});
