import { waitFor } from '../../local-stack/processes';
import { type ReplicaProcess, spawnReplica } from '../../local-stack/replica-process';
import { processEnv, uniqueName } from '../harness/replicas';

/**
 * The database freezes (SIGSTOP on the real MongoDB-wire server) while a write is in flight.
 * Expected before the fault: the write answers 503 "outcome unknown" within MONGODB_TIMEOUT_MS
 * instead of hanging, /readyz answers 503 too, the write is announced anyway, and once the
 * database is back every replica serves the database's version, none the older one it cached.
 */
describe('a hung database', () => {
  let replicas: ReplicaProcess[] = [];
  const mongoPid = Number(process.env.TEST_MONGO_PID);

  beforeAll(async () => {
    const env = processEnv('hung', { MONGODB_TIMEOUT_MS: '1000', LOG_LEVEL: 'warn' });
    replicas = await Promise.all(['w', 'r'].map((n) => spawnReplica(uniqueName(n), env)));
  });
  afterAll(async () => {
    await Promise.all(replicas.map((r) => r.stop()));
  });

  const call = async (method: string, url: string, body?: unknown) => {
    const response = await fetch(url, {
      method,
      headers: body ? { 'content-type': 'application/json' } : {},
      body: body ? JSON.stringify(body) : undefined,
      signal: AbortSignal.timeout(20_000), // bounds the test if the replica hangs; asserted below
    });
    return { status: response.status, json: (await response.json()) as Record<string, unknown> };
  };

  it('answers 503 in time, announces the write, and leaves no replica on the older version', async () => {
    const [writer, reader] = replicas as [ReplicaProcess, ReplicaProcess];
    const received = async () =>
      Number(
        /^cache_invalidations_received_total\{[^}]*\} (\S+)$/m.exec(
          await (await fetch(`${reader.url}/metrics`)).text(),
        )?.[1],
      );
    const beforeCreate = await received();
    const created = await call('POST', `${writer.url}/books`, { name: 'Frozen', author: 'n/a', year: 1 });
    const id = created.json.id as string;
    // The create's own invalidation must not pass for the announcement awaited below.
    await waitFor(async () => (await received()) > beforeCreate, { message: "the create's invalidation arrived" });
    await call('GET', `${reader.url}/books/${id}`);
    const cached = await fetch(`${reader.url}/books/${id}`);
    expect(cached.headers.get('x-cache')).toBe('HIT');
    const receivedBefore = await received();

    expect(mongoPid).toBeGreaterThan(0);
    process.kill(mongoPid, 'SIGSTOP');
    let patched: { status: number; json: Record<string, unknown> };
    let ready: number;
    try {
      patched = await call('PATCH', `${writer.url}/books/${id}`, { year: 2 });
      ready = (await fetch(`${writer.url}/readyz`, { signal: AbortSignal.timeout(20_000) })).status;
      // Announced while the database is still frozen: the reader evicts before it could serve it.
      await waitFor(async () => (await received()) > receivedBefore, {
        message: 'the announcement reached the reader',
      });
    } finally {
      process.kill(mongoPid, 'SIGCONT');
    }
    expect(patched.status).toBe(503);
    expect(patched.json).toEqual({ error: { code: 'write_outcome_unknown', message: expect.any(String) } });
    expect(ready).toBe(503);
    const metrics = await (await fetch(`${writer.url}/metrics`)).text();
    expect(metrics).toMatch(/^cache_write_outcome_unknown_total\{[^}]*\} 1$/m);

    // The database is back; whatever it holds now, every replica serves exactly that.
    const truth = await waitFor(
      async () => {
        const response = await call('GET', `${writer.url}/books/${id}`);
        return response.status === 200 ? (response.json.version as number) : undefined;
      },
      { timeoutMs: 20_000, message: 'the database answers again' },
    );
    const seen = await call('GET', `${reader.url}/books/${id}`);
    expect([seen.status, seen.json.version]).toEqual([200, truth]);
    console.log(`the frozen write ${truth === 2 ? 'committed on resume' : 'never committed'} (version ${truth})`);
  });
});
