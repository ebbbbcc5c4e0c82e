import { http, metricValue, startCluster, type RunningReplica } from '../harness/replicas';
import { waitFor } from '../harness/servers';

describe('smoke', () => {
  let replicas: RunningReplica[] = [];
  afterAll(async () => {
    await Promise.all(replicas.map((r) => r.stop()));
  });
  it('works', async () => {
    replicas = await startCluster(3);
    const [a, b, c] = replicas as [RunningReplica, RunningReplica, RunningReplica];
    const created = await http('POST', `${a.url}/books`, { name: 'Dune', author: 'Herbert', year: 1965 });
    console.log(created.status, created.json, Object.fromEntries(created.headers));
    const id = created.json.id as string;
    console.log((await http('GET', `${b.url}/books/${id}`)).headers.get('x-cache'));
    console.log((await http('GET', `${b.url}/books/${id}`)).headers.get('x-cache'));
    const upd = await http('PATCH', `${a.url}/books/${id}`, { year: 1966 });
    console.log(upd.status, upd.json);
    await waitFor(async () => (await metricValue(b, 'cache_invalidations_received_total')) >= 2);
    const r = await http('GET', `${b.url}/books/${id}`);
    console.log(r.json, r.headers.get('x-cache'));
    console.log(await metricValue(b, 'cache_invalidations_missed_total'), await metricValue(c, 'cache_evictions_total', {reason: 'invalidation'}));
    console.log((await http('GET', `${a.url}/metrics`)).text.split('\n').filter(l => l.startsWith('cache_')).join('\n'));
  });
});
