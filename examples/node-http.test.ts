import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { freePort, ROOT, waitFor } from '../service/local-stack/processes';
import { type ToxicProxy, Toxiproxy } from '../service/local-stack/toxiproxy';
import { uniqueName } from '../service/test/harness/replicas';

/**
 * The second user, as its README runs it: two processes of examples/node-http/server.mjs (the
 * built package, plain node:http, the MongoDB native driver) on the test servers' Redis and MongoDB.
 */
describe('examples/node-http: two processes of a non-Koa, non-mongoose service', () => {
  let toxiproxy: Toxiproxy;
  let proxyB: ToxicProxy;
  const started: ChildProcess[] = [];
  let a: string;
  let b: string;
  const db = uniqueName('notes');

  const start = async (replicaId: string, redisUrl: string) => {
    const port = await freePort();
    const child = spawn(process.execPath, [join(ROOT, 'examples/node-http/server.mjs')], {
      env: {
        PATH: process.env.PATH,
        PORT: String(port),
        REPLICA_ID: replicaId,
        REDIS_URL: redisUrl,
        MONGODB_URI: `${process.env.MONGODB_URI}/${db}`,
        SYNC_MODE: 'pubsub',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    started.push(child);
    let output = '';
    child.stdout?.on('data', (d) => {
      output += d;
    });
    child.stderr?.on('data', (d) => {
      output += d;
    });
    const url = `http://127.0.0.1:${port}`;
    await waitFor(async () => (await fetch(`${url}/stats`)).ok, { message: `${replicaId} listening: ${output}` });
    return url;
  };
  const put = async (url: string, id: string, text: string) => {
    const response = await fetch(`${url}/notes/${id}`, { method: 'PUT', body: JSON.stringify({ text }) });
    expect(response.status).toBe(200);
    return (await response.json()) as { version: number };
  };
  const get = async (url: string, id: string) => {
    const response = await fetch(`${url}/notes/${id}`);
    return {
      cache: response.headers.get('x-cache'),
      body: (await response.json()) as { version: number; text: string },
    };
  };
  const stats = async (url: string) =>
    (await (await fetch(`${url}/stats`)).json()) as { hits: number; misses: number; missed: number };

  beforeAll(async () => {
    const redisUrl = new URL(process.env.REDIS_URL ?? '');
    toxiproxy = await Toxiproxy.start();
    proxyB = await toxiproxy.proxy(uniqueName('example-b'), Number(redisUrl.port));
    a = await start('notes-a', redisUrl.href);
    b = await start('notes-b', `redis://127.0.0.1:${proxyB.port}`);
  }, 60_000);
  afterAll(async () => {
    for (const child of started) child.kill('SIGKILL');
    await toxiproxy?.destroy();
  });

  it('a write on one process is fresh on the other, whose copy was cached', async () => {
    await put(a, 'n1', 'first');
    expect((await get(b, 'n1')).cache).toBe('MISS');
    expect((await get(b, 'n1')).cache).toBe('HIT');
    const { version } = await put(a, 'n1', 'second');
    await waitFor(async () => (await get(b, 'n1')).body.version === version, { message: 'b serves the new version' });
    expect((await get(b, 'n1')).body.text).toBe('second');
  });

  it('a subscriber held out while writes land counts them as missed on its return', async () => {
    const before = (await stats(b)).missed;
    // Expected: b's connections to Redis are cut, a's 5 writes (and its heartbeats) never reach
    // b, and once b is back the gap in a's sequence is counted: at least 5 missed.
    await proxyB.cutOff();
    for (let i = 0; i < 5; i += 1) await put(a, 'n2', `while cut ${i}`);
    await proxyB.restore();
    await waitFor(async () => (await stats(b)).missed - before >= 5, {
      timeoutMs: 20_000,
      message: 'b counted the messages it missed',
    });
  });
});
