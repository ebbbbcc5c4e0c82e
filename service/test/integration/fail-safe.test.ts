import { waitFor } from '../../local-stack/processes';
import { Toxiproxy } from '../../local-stack/toxiproxy';
import { http, metricValue, type RunningReplica, startReplica, testConfig } from '../harness/replicas';

/**
 * Fail-safe on real servers: the replica reaches MongoDB through Toxiproxy, so the test can hang
 * the database (a 10 s latency toxic on what it answers) while the replica is up.
 */
describe('fail-safe with MongoDB hung behind Toxiproxy', () => {
  let replica: RunningReplica | undefined;
  let toxiproxy: Toxiproxy | undefined;
  afterAll(async () => {
    await replica?.stop();
    await toxiproxy?.destroy();
  });

  it('answers the expired book within the hard timeout, marked stale and counted; 504 without one; fresh after', async () => {
    toxiproxy = await Toxiproxy.start();
    const mongo = new URL(process.env.MONGODB_URI ?? '');
    const proxy = await toxiproxy.proxy('fail-safe-mongo', Number(mongo.port));
    const config = testConfig({
      CACHE_TTL_SECONDS: 1,
      CACHE_GRACE_SECONDS: 600,
      CACHE_HARD_TIMEOUT_MS: 500,
      MONGODB_TIMEOUT_MS: 30_000,
    });
    const database = new URL(config.MONGODB_URI).pathname;
    replica = await startReplica({ ...config, MONGODB_URI: `mongodb://127.0.0.1:${proxy.port}${database}` });
    const url = replica.url;
    const kept = (await http('POST', `${url}/books`, { name: 'Kept', author: 'n/a', year: 1 })).json.id as string;
    const never = (await http('POST', `${url}/books`, { name: 'Never read', author: 'n/a', year: 1 })).json
      .id as string;
    expect((await http('GET', `${url}/books/${kept}`)).headers.get('x-cache')).toBe('MISS');
    await waitFor(() => replica!.cache.peek(`id:${kept}`) === undefined, { message: 'the entry expired (TTL 1 s)' });

    // Expected: while MongoDB answers nothing for 10 s, the read of the expired book is answered
    // from its kept value once the 500 ms hard timeout passes (well before the database would
    // answer), marked stale with its age and the reason, and counted; a book never cached has
    // nothing to answer with and gets 504.
    await proxy.latency(10_000, 'downstream');
    const started = Date.now();
    const stale = await http('GET', `${url}/books/${kept}`);
    const tookMs = Date.now() - started;
    expect({
      status: stale.status,
      cache: stale.headers.get('x-cache'),
      reason: stale.headers.get('x-cache-stale-reason'),
      version: stale.json.version,
    }).toEqual({ status: 200, cache: 'STALE', reason: 'hard_timeout', version: 1 });
    expect(Number(stale.headers.get('age'))).toBeGreaterThanOrEqual(1);
    expect(tookMs).toBeLessThan(10_000);
    expect(await metricValue(replica, 'cache_stale_served_total', { reason: 'hard_timeout' })).toBe(1);
    const missing = await http('GET', `${url}/books/${never}`);
    expect([missing.status, (missing.json.error as { code: string }).code]).toEqual([504, 'database_timeout']);
    // Throttled: the next read of the failed key answers the kept value without asking MongoDB.
    expect((await http('GET', `${url}/books/${kept}`)).headers.get('x-cache-stale-reason')).toBe('throttled');

    await proxy.removeLatency('downstream');
    await waitFor(async () => (await http('GET', `${url}/books/${kept}`)).headers.get('x-cache') === 'HIT', {
      timeoutMs: 30_000,
      message: 'fresh reads again once MongoDB answers',
    });
    expect(await metricValue(replica, 'cache_stale_served_total', { reason: 'throttled' })).toBeGreaterThanOrEqual(1);
  });
});
