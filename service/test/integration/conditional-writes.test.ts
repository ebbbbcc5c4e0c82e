import { get } from 'node:http';
import { http, type RunningReplica, startCluster } from '../harness/replicas';

const conditionalGet = (url: string, etag: string) =>
  new Promise<{ status: number; body: string; cache: string }>((resolve, reject) => {
    get(url, { headers: { 'if-none-match': etag } }, (response) => {
      let body = '';
      response.on('data', (chunk) => (body += chunk));
      response.on('end', () =>
        resolve({ status: response.statusCode ?? 0, body, cache: String(response.headers['x-cache']) }),
      );
    }).on('error', reject);
  });

/** ETags from `version`; If-Match on writes, If-None-Match on reads; racing writers through two replicas. */
describe('conditional requests', () => {
  let replicas: RunningReplica[] = [];
  let a: RunningReplica;
  let b: RunningReplica;

  beforeAll(async () => {
    replicas = await startCluster(2);
    [a, b] = replicas as [RunningReplica, RunningReplica];
  });
  afterAll(async () => {
    await Promise.all(replicas.map((r) => r.stop()));
  });

  const create = async (name: string) =>
    (await http('POST', `${a.url}/books`, { name, author: 'n/a', year: 1 })).json.id as string;

  it('tags every book response with its version, and answers 304 to a read that has it', async () => {
    const id = await create('Tagged');
    const read = await http('GET', `${b.url}/books/${id}`);
    expect(read.headers.get('etag')).toBe('"1"');
    // fetch adds Cache-Control: no-cache to conditional requests (an end-to-end reload), so a
    // plain client is used here, as a cache or a proxy would send it.
    expect(await conditionalGet(`${b.url}/books/${id}`, '"1"')).toEqual({ status: 304, body: '', cache: 'HIT' });
    expect((await conditionalGet(`${b.url}/books/${id}`, '"0"')).status).toBe(200);
    const patched = await http('PATCH', `${a.url}/books/${id}`, { year: 2 });
    expect(patched.headers.get('etag')).toBe('"2"');
  });

  it.each([
    ['PATCH', { year: 5 }],
    ['PUT', { name: 'Tagged put', author: 'x', year: 5 }],
    ['DELETE', undefined],
  ])('%s with a stale If-Match answers 412 and changes nothing', async (method, body) => {
    const id = await create(`Stale ${method}`);
    await http('PATCH', `${a.url}/books/${id}`, { year: 2 });
    const stale = await http(method, `${b.url}/books/${id}`, body, { 'if-match': '"1"' });
    expect([stale.status, stale.json]).toEqual([
      412,
      { error: { code: 'precondition_failed', message: expect.any(String) } },
    ]);
    expect((await http('GET', `${a.url}/books/${id}`)).json).toMatchObject({ version: 2, year: 2 });
    const current = await http(method, `${b.url}/books/${id}`, body, { 'if-match': '"2"' });
    expect(current.status).toBe(200);
  });

  it.each(['"1", "2"', 'W/"1"', '1', '"x"'])('If-Match %s is refused with 400', async (header) => {
    const id = await create(`Bad precondition ${header}`);
    const response = await http('PATCH', `${a.url}/books/${id}`, { year: 3 }, { 'if-match': header });
    expect([response.status, response.json.error]).toEqual([
      400,
      expect.objectContaining({ code: 'invalid_precondition' }),
    ]);
  });

  it('of two writers racing on one version through two replicas, exactly one wins, 20 times out of 20', async () => {
    const id = await create('Raced');
    const outcomes: number[][] = [];
    for (let round = 1; round <= 20; round += 1) {
      const version = round;
      const [fromA, fromB] = await Promise.all([
        http('PATCH', `${a.url}/books/${id}`, { author: `a${round}` }, { 'if-match': `"${version}"` }),
        http('PATCH', `${b.url}/books/${id}`, { author: `b${round}` }, { 'if-match': `"${version}"` }),
      ]);
      outcomes.push([fromA.status, fromB.status].sort());
      const winner = fromA.status === 200 ? `a${round}` : `b${round}`;
      // The winner's change is the one stored, at exactly one version more: no update lost. (Read
      // from the database: a replica's cache may not have heard of the other replica's write yet.)
      const stored = await a.repository.findById(id);
      expect(stored).toMatchObject({ version: version + 1, author: winner });
    }
    expect(outcomes).toEqual(Array.from({ length: 20 }, () => [200, 412]));
  });
});
