import { waitFor } from '../../local-stack/processes';
import { http, MESSAGES_PER_WRITE, metricValue, type RunningReplica, settled, startCluster } from '../harness/replicas';

/** Three replicas on one MongoDB database and one Redis channel, as deployed. */
describe('three replicas kept in sync over Redis Pub/Sub', () => {
  let replicas: RunningReplica[] = [];
  let a: RunningReplica;
  let b: RunningReplica;
  let c: RunningReplica;

  beforeAll(async () => {
    replicas = await startCluster(3);
    [a, b, c] = replicas as [RunningReplica, RunningReplica, RunningReplica];
    await waitFor(async () => (await metricValue(a, 'cache_invalidation_members')) === 3, { message: '3 members' });
  });
  afterAll(async () => {
    await Promise.all(replicas.map((r) => r.stop()));
  });

  const readVia = async (replica: RunningReplica, path: string) => {
    const response = await http('GET', `${replica.url}${path}`);
    return {
      status: response.status,
      cache: response.headers.get('x-cache'),
      version: response.json?.version,
      body: response.json,
    };
  };

  it('evicts a write on every other replica, whose next read is fresh', async () => {
    const created = await settled([b, c], () =>
      http('POST', `${a.url}/books`, { name: 'Dune', author: 'Frank Herbert', year: 1965 }),
    );
    expect(created.status).toBe(201);
    expect(created.json).toMatchObject({ name: 'Dune', version: 1 });
    expect(created.headers.get('x-replica')).toBe(a.id);
    const id = created.json.id as string;

    for (const replica of [b, c]) {
      expect(await readVia(replica, `/books/${id}`)).toMatchObject({ cache: 'MISS', version: 1 });
      expect(await readVia(replica, `/books/${id}`)).toMatchObject({ cache: 'HIT', version: 1 });
      expect(await readVia(replica, '/books?name=Dune')).toMatchObject({ cache: 'MISS', version: 1 });
      expect(await readVia(replica, '/books?name=Dune')).toMatchObject({ cache: 'HIT', version: 1 });
    }
    const receivedBefore = await metricValue(b, 'cache_invalidations_received_total');
    const lagCountBefore = await metricValue(c, 'cache_invalidation_lag_seconds_count');

    const updated = await http('PATCH', `${a.url}/books/${id}`, { year: 1966 });
    expect(updated.json).toMatchObject({ version: 2, year: 1966 });

    for (const replica of [b, c]) {
      await waitFor(() => replica.cache.peek(`id:${id}`) === undefined, { message: `eviction on ${replica.id}` });
      expect(replica.cache.peek('name:Dune')).toBeUndefined();
      expect(await readVia(replica, `/books/${id}`)).toMatchObject({ cache: 'MISS', version: 2, body: { year: 1966 } });
    }
    // Each replica gets the book's key invalidation and the tag invalidation of its author lists.
    await waitFor(
      async () => (await metricValue(b, 'cache_invalidations_received_total')) === receivedBefore + MESSAGES_PER_WRITE,
    );
    await waitFor(
      async () =>
        (await metricValue(c, 'cache_invalidation_lag_seconds_count')) === lagCountBefore + MESSAGES_PER_WRITE,
    );
    expect(await metricValue(b, 'cache_evictions_total', { reason: 'invalidation' })).toBeGreaterThanOrEqual(2);
    expect(await metricValue(a, 'cache_invalidations_published_total')).toBeGreaterThanOrEqual(2);
    expect(await metricValue(a, 'cache_invalidation_receivers_missing_total')).toBe(0);
    for (const replica of replicas) expect(await metricValue(replica, 'cache_invalidations_missed_total')).toBe(0);
  });

  it('evicts the old name on a rename, and a deleted book everywhere', async () => {
    const created = await http('POST', `${a.url}/books`, { name: 'Solaris', author: 'Stanislaw Lem', year: 1961 });
    const id = created.json.id as string;
    await readVia(b, '/books?name=Solaris');
    expect(b.cache.peek('name:Solaris')).toBeDefined();

    const renamed = await http('PUT', `${c.url}/books/${id}`, {
      name: 'Solaris (1961)',
      author: 'Stanislaw Lem',
      year: 1961,
    });
    expect(renamed.json).toMatchObject({ version: 2, name: 'Solaris (1961)' });
    await waitFor(() => b.cache.peek('name:Solaris') === undefined, { message: 'old name evicted' });
    expect(await readVia(b, '/books?name=Solaris')).toMatchObject({ status: 404 });
    expect(await readVia(b, `/books?name=${encodeURIComponent('Solaris (1961)')}`)).toMatchObject({ version: 2 });

    await readVia(a, `/books/${id}`);
    const deleted = await http('DELETE', `${b.url}/books/${id}`);
    expect(deleted.json).toEqual({ id, version: 3, deleted: true });
    await waitFor(() => a.cache.peek(`id:${id}`) === undefined, { message: 'deleted book evicted' });
    expect(await readVia(a, `/books/${id}`)).toMatchObject({ status: 404 });
  });

  it('measures publish-to-evict lag, within the 100 ms bucket on loopback', async () => {
    const created = await http('POST', `${b.url}/books`, { name: 'Lag probe', author: 'n/a', year: 2000 });
    const id = created.json.id as string;
    const before = await metricValue(a, 'cache_invalidation_lag_seconds_count');
    for (let year = 2001; year <= 2200; year += 1) await http('PATCH', `${b.url}/books/${id}`, { year });
    await waitFor(async () => (await metricValue(a, 'cache_invalidation_lag_seconds_count')) >= before + 200);
    const count = await metricValue(a, 'cache_invalidation_lag_seconds_count');
    const sum = await metricValue(a, 'cache_invalidation_lag_seconds_sum');
    const within = async (le: string) => metricValue(a, 'cache_invalidation_lag_seconds_bucket', { le });
    // Loopback delivery takes well under 100 ms; a lag near seconds would mean a clock or unit error.
    expect(await within('0.1')).toBe(count);
    expect(await within('0.0001')).toBeLessThan(count);
    expect(sum / count).toBeLessThan(0.1);
    expect(sum).toBeGreaterThan(0);
  });
});
