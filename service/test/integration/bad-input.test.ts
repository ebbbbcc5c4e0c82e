import { connect } from 'node:net';
import { http, metricValue, type RunningReplica, startCluster } from '../harness/replicas';

const VALID = { name: 'Existing', author: 'A. Author', year: 1999 };

describe('bad input gets a 4xx JSON error and never a write', () => {
  let replicas: RunningReplica[] = [];
  let a: RunningReplica;
  let id: string;
  let published: number;

  beforeAll(async () => {
    replicas = await startCluster(1, { MAX_BODY_BYTES: 4096 });
    a = replicas[0]!;
    id = (await http('POST', `${a.url}/books`, VALID)).json.id as string;
    await http('POST', `${a.url}/books`, { ...VALID, name: 'Other' });
    published = await metricValue(a, 'cache_invalidations_published_total');
  });
  afterAll(async () => {
    await Promise.all(replicas.map((r) => r.stop()));
  });

  const json = { 'content-type': 'application/json' };
  type Row = [string, string, string, unknown, Record<string, string>, number, string];
  const rows: Row[] = [
    ['malformed JSON', 'POST', '/books', '{"name": "x",', json, 400, 'malformed_json'],
    ['a JSON array body', 'POST', '/books', '[1, 2]', json, 400, 'invalid_body'],
    ['a JSON null body', 'POST', '/books', 'null', json, 400, 'malformed_json'],
    ['a number where a string belongs', 'POST', '/books', { ...VALID, name: 42 }, json, 400, 'invalid_body'],
    [
      'a string where a number belongs',
      'POST',
      '/books',
      { ...VALID, name: 'N1', year: '1999' },
      json,
      400,
      'invalid_body',
    ],
    ['a fractional year', 'POST', '/books', { ...VALID, name: 'N2', year: 1999.5 }, json, 400, 'invalid_body'],
    ['missing fields', 'POST', '/books', { name: 'N3' }, json, 400, 'invalid_body'],
    ['an empty name', 'POST', '/books', { ...VALID, name: '   ' }, json, 400, 'invalid_body'],
    ['an unknown field', 'POST', '/books', { ...VALID, name: 'N4', isbn: 'x' }, json, 400, 'invalid_body'],
    ['a client-chosen version', 'POST', '/books', { ...VALID, name: 'N5', version: 99 }, json, 400, 'invalid_body'],
    ['an operator as name in the body', 'POST', '/books', { ...VALID, name: { $gt: '' } }, json, 400, 'invalid_body'],
    ['an operator in a PATCH', 'PATCH', '/books/:id', { name: { $ne: null } }, json, 400, 'invalid_body'],
    ['an operator as a PATCH key', 'PATCH', '/books/:id', { $set: { version: 1 } }, json, 400, 'invalid_body'],
    ['an empty PATCH', 'PATCH', '/books/:id', {}, json, 400, 'invalid_body'],
    ['a PUT missing fields', 'PUT', '/books/:id', { name: 'Only name' }, json, 400, 'invalid_body'],
    ['an oversized body', 'POST', '/books', { ...VALID, name: 'x'.repeat(5000) }, json, 413, 'body_too_large'],
    [
      'a non-JSON content type',
      'POST',
      '/books',
      'name=x',
      { 'content-type': 'text/plain' },
      415,
      'unsupported_media_type',
    ],
    ['an invalid id on GET', 'GET', '/books/not-an-id', undefined, {}, 400, 'invalid_id'],
    ['an invalid id on PATCH', 'PATCH', '/books/123', { year: 1 }, json, 400, 'invalid_id'],
    ['an invalid id on DELETE', 'DELETE', '/books/zzzzzzzzzzzzzzzzzzzzzzzz', undefined, {}, 400, 'invalid_id'],
    ['an operator smuggled into ?name', 'GET', '/books?name[$ne]=x', undefined, {}, 400, 'invalid_query'],
    ['?name given twice', 'GET', '/books?name=a&name=b', undefined, {}, 400, 'invalid_query'],
    ['?name missing', 'GET', '/books', undefined, {}, 400, 'invalid_query'],
    ['a duplicate name on POST', 'POST', '/books', VALID, json, 409, 'duplicate_name'],
    ['a rename onto an existing name', 'PATCH', '/books/:id', { name: 'Other' }, json, 409, 'duplicate_name'],
    ['an unknown book', 'PATCH', '/books/0123456789abcdef01234567', { year: 1 }, json, 404, 'not_found'],
    ['an unknown route', 'GET', '/nothing-here', undefined, {}, 404, 'not_found'],
    ['a method the route does not allow', 'POST', '/books/:id', VALID, json, 405, 'method_not_allowed'],
    ...['PROPFIND', 'LOCK', 'SEARCH', 'PURGE'].map(
      (method): Row => [`an unknown method ${method}`, method, '/books', undefined, {}, 501, 'not_implemented'],
    ),
    [
      'a corrupt gzip body',
      'POST',
      '/books',
      'not gzip',
      { ...json, 'content-encoding': 'gzip' },
      400,
      'malformed_body',
    ],
    [
      'a corrupt deflate body',
      'POST',
      '/books',
      'not deflate',
      { ...json, 'content-encoding': 'deflate' },
      400,
      'malformed_body',
    ],
    [
      'an unknown content encoding',
      'POST',
      '/books',
      '{}',
      { ...json, 'content-encoding': 'compress' },
      415,
      'unsupported_media_type',
    ],
    [
      '2,000 unknown query parameters',
      'GET',
      `/books?${Array.from({ length: 2000 }, (_, i) => `p${i}=1`).join('&')}`,
      undefined,
      {},
      400,
      'invalid_query',
    ],
  ];

  it.each(rows)('%s (%s %s)', async (_name, method, path, body, headers, status, code) => {
    const response = await http(method, `${a.url}${path.replace(':id', id)}`, body, headers);
    expect(response.status).toBe(status);
    expect(response.json).toEqual({ error: { code, message: expect.any(String) } });
    expect(response.text).not.toMatch(/at .*\.(ts|js):\d+/);
    expect(response.text.length).toBeLessThan(400);
  });

  it('answers TRACE (which fetch will not send) with 501, not 500', async () => {
    const { port } = new URL(a.url);
    const answer = await new Promise<string>((resolve) => {
      const socket = connect(Number(port), '127.0.0.1', () => socket.end('TRACE /books HTTP/1.1\r\nHost: x\r\n\r\n'));
      let text = '';
      socket.on('data', (chunk) => (text += chunk));
      socket.on('close', () => resolve(text));
    });
    expect(answer).toMatch(/^HTTP\/1\.1 501 /);
    expect(answer).toContain('"code":"not_implemented"');
  });

  it('left the data and the channel untouched', async () => {
    expect(await a.repository.count()).toBe(2);
    const existing = await http('GET', `${a.url}/books/${id}`);
    expect(existing.json).toMatchObject({ ...VALID, version: 1 });
    expect(await metricValue(a, 'cache_invalidations_published_total')).toBe(published);
    const durations = await a.metrics.httpDuration.get();
    expect(durations.values.filter((v) => String(v.labels.status_code) === '500')).toEqual([]);
  });
});
