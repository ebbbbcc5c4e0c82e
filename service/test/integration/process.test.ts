import { spawnSync } from 'node:child_process';
import { connect } from 'node:net';
import { channelKeys } from '@local-cache-sync/core/transport';
import { Redis } from 'ioredis';
import { cachedBinary, freePort, startRedis, waitFor } from '../../local-stack/processes';
import { type ReplicaProcess, runReplicaToExit, spawnReplica } from '../../local-stack/replica-process';
import { freshSigningKeys } from '../../local-stack/signing-keys';
import { type ReceivedSpan, startOtlpReceiver } from '../harness/otlp-receiver';
import { processEnv, uniqueName } from '../harness/replicas';

const SPAN_KIND = { SERVER: 2, PRODUCER: 4, CONSUMER: 5 };

/** The built service (`npm run build`, then `npm start`) as separate processes, exporting OTLP. */
describe('replica processes started like npm start', () => {
  let receiver: Awaited<ReturnType<typeof startOtlpReceiver>>;
  let r1: ReplicaProcess;
  let r2: ReplicaProcess;
  const channel = uniqueName('book-channel');

  beforeAll(async () => {
    receiver = await startOtlpReceiver();
    const env = {
      MONGODB_URI: `${process.env.MONGODB_URI}/${uniqueName('books')}`,
      REDIS_URL: process.env.REDIS_URL ?? '',
      INVALIDATION_CHANNEL: channel,
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
      OTEL_BSP_SCHEDULE_DELAY: '100',
      LOG_LEVEL: 'debug',
      SYNC_SIGNING_KEYS: freshSigningKeys('p'),
      HTTP_HEADERS_TIMEOUT_MS: '2000',
    };
    [r1, r2] = await Promise.all([spawnReplica(uniqueName('p1'), env), spawnReplica(uniqueName('p2'), env)]);
  });
  afterAll(async () => {
    await Promise.all([r1?.stop('SIGKILL'), r2?.stop('SIGKILL')]);
    receiver?.server.close();
  });

  const json = (method: string, url: string, body?: unknown) =>
    fetch(url, {
      method,
      headers: { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  const created = async (response: Promise<Response>) => (await (await response).json()) as { id: string };

  it('traces a write from the HTTP request through the PRODUCER span to a linked CONSUMER span on the other replica', async () => {
    const book = await created(json('POST', `${r1.url}/books`, { name: 'Neuromancer', author: 'Gibson', year: 1984 }));
    expect((await fetch(`${r2.url}/books/${book.id}`)).headers.get('x-cache')).toBe('MISS');
    const patched = await json('PATCH', `${r1.url}/books/${book.id}`, { year: 1985 });
    expect(patched.status).toBe(200);
    await waitFor(async () => (await fetch(`${r2.url}/books/${book.id}`)).headers.get('x-cache') === 'MISS', {
      message: 'evicted on r2',
    });

    // Walk up from each producer span of r1: the PATCH's ancestors end at its HTTP SERVER span.
    const serverAncestor = (span: ReceivedSpan) => {
      const byId = new Map(receiver.spans.map((s) => [s.spanId, s] as const));
      for (let up = byId.get(span.parentSpanId ?? ''); up; up = byId.get(up.parentSpanId ?? '')) {
        if (up.kind === SPAN_KIND.SERVER) return up;
      }
      return undefined;
    };
    const linkedConsumer = (producer: ReceivedSpan) =>
      receiver.spans.find((c) => c.kind === SPAN_KIND.CONSUMER && c.links.some((l) => l.spanId === producer.spanId));
    const producer = await waitFor(
      () =>
        receiver.spans.find(
          (s) =>
            s.kind === SPAN_KIND.PRODUCER &&
            s.resource['service.instance.id'] === r1.id &&
            serverAncestor(s)?.attributes['http.request.method'] === 'PATCH' &&
            linkedConsumer(s),
        ),
      { message: 'the PATCH request span, its producer span and a linked consumer span' },
    );
    expect(producer.name).toBe(`publish ${channel}`);
    expect(producer.attributes).toMatchObject({ 'messaging.system': 'redis', 'messaging.destination.name': channel });
    const server = serverAncestor(producer)!;
    expect(server.resource['service.instance.id']).toBe(r1.id);
    expect(server.traceId).toBe(producer.traceId);
    const consumer = linkedConsumer(producer)!;
    expect(consumer.name).toBe(`process ${channel}`);
    expect(consumer.resource).toMatchObject({ 'service.instance.id': r2.id, 'service.name': 'book-service' });
    expect(consumer.traceId).toBe(producer.traceId);

    // The database and Redis calls are traced too.
    const traceSpans = receiver.spans.filter((s) => s.traceId === producer.traceId);
    const systems = new Set(traceSpans.map((s) => s.attributes['db.system.name']));
    expect(systems).toEqual(new Set([undefined, 'mongodb', 'redis']));

    // JSON logs carry the trace of the write that produced them.
    const written = r1
      .output()
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as Record<string, unknown>)
      .find((entry) => entry.msg === 'book written' && entry.version === 2);
    expect(written).toMatchObject({ replica: r1.id, trace_id: producer.traceId });
  });

  it('serves OpenMetrics with exemplars, and classic text that promtool accepts for every project metric', async () => {
    const open = await fetch(`${r2.url}/metrics`, {
      headers: { accept: 'application/openmetrics-text; version=1.0.0' },
    });
    expect(open.headers.get('content-type')).toContain('application/openmetrics-text');
    const openText = await open.text();
    expect(openText).toMatch(/^cache_invalidation_lag_seconds_bucket\{.*\} \d+ # \{trace_id="[0-9a-f]{32}"\}/m);
    expect(openText.trimEnd().endsWith('# EOF')).toBe(true);

    const classic = await fetch(`${r2.url}/metrics`);
    expect(classic.headers.get('content-type')).toContain('text/plain; version=0.0.4');
    const classicText = await classic.text();
    expect(classicText).toContain('cache_gets_total{cache="book",result="hit"}');
    expect(classicText).not.toContain('# EOF');
    const lint = spawnSync(cachedBinary('promtool'), ['check', 'metrics'], { input: classicText, encoding: 'utf8' });
    const report = `${lint.stdout}${lint.stderr}`;
    // Exit 1 and 'error while linting' mean it could not parse; lint findings are lines that start with the metric name.
    expect(lint.error).toBeUndefined();
    expect(report).not.toContain('error while linting');
    expect([0, 3]).toContain(lint.status);
    expect(report.split('\n').filter((line) => /^(cache_|http_server_)/.test(line.trim()))).toEqual([]);
  });

  it('keeps fault injection off unless CHAOS_ENABLED=1, and never on the service port', async () => {
    expect(r1.output()).not.toContain('chaos admin port open');
    expect((await fetch(`${r1.url}/chaos/crash-before-publish`, { method: 'POST' })).status).toBe(404);
    expect((await fetch(`${r1.url}/healthz`)).status).toBe(200);
  });

  it('reports every bad environment variable at once and exits 2', async () => {
    const { code, output } = await runReplicaToExit({
      PORT: 'eighty',
      REDIS_URL: 'localhost:6379',
      CACHE_MAX_KEYS: '0',
    });
    expect(code).toBe(2);
    expect(output).toContain('Invalid configuration');
    for (const name of ['PORT', 'REDIS_URL', 'CACHE_MAX_KEYS']) expect(output).toContain(`${name}=`);
    expect(output).not.toMatch(/\n\s+at /);
  });

  it('cuts a client that trickles its headers at HTTP_HEADERS_TIMEOUT_MS (2 s here), and keeps serving', async () => {
    const { port } = new URL(r1.url);
    const socket = connect(Number(port), '127.0.0.1');
    let answer = '';
    let closed = false;
    socket.on('data', (chunk) => (answer += chunk));
    socket.on('close', () => (closed = true));
    socket.on('error', () => undefined);
    socket.write('GET /healthz HTTP/1.1\r\nHost: x\r\n');
    const trickle = setInterval(() => socket.writable && socket.write('X-Slow: 1\r\n'), 200);
    try {
      // Without the deadline the trickle would hold the socket for as long as it goes on.
      await waitFor(() => closed, { timeoutMs: 15_000, message: 'the server closed the trickling connection' });
    } finally {
      clearInterval(trickle);
    }
    expect(answer).toMatch(/^HTTP\/1\.1 408 /);
    expect((await fetch(`${r1.url}/healthz`)).status).toBe(200);
  });

  it('never prints a secret: not in config errors, not in a debug run that fails to authenticate', async () => {
    const secrets = [
      'hunter2-redis-password',
      'hunter2-mongo-password',
      'signing-secret-0123456789',
      'chaos-token-0123456789',
    ];
    const invalid = await runReplicaToExit({
      REDIS_URL: `redis://user:${secrets[0]}@127.0.0.1:notaport`,
      MONGODB_URI: `mongo://user:${secrets[1]}@127.0.0.1/books`,
      SYNC_SIGNING_KEYS: `k 1:${secrets[2]}`,
      CHAOS_ENABLED: '1',
      CHAOS_TOKEN: 'short',
    });
    expect(invalid.code).toBe(2);
    for (const name of ['REDIS_URL', 'MONGODB_URI', 'SYNC_SIGNING_KEYS', 'CHAOS_TOKEN']) {
      expect(invalid.output).toContain(`${name}=`);
    }
    const guarded = await startRedis(['--requirepass', 'the-right-password']);
    try {
      const debug = await runReplicaToExit({
        REDIS_URL: `redis://:${secrets[0]}@127.0.0.1:${guarded.port}`,
        MONGODB_URI: `${process.env.MONGODB_URI}/${uniqueName('books')}`,
        SYNC_SIGNING_KEYS: `k1:${secrets[2]}`,
        CHAOS_ENABLED: '1',
        CHAOS_TOKEN: secrets[3]!,
        LOG_LEVEL: 'trace',
      });
      expect(debug.code).toBe(1);
      expect(debug.output).toMatch(/WRONGPASS/);
      for (const output of [invalid.output, debug.output]) {
        for (const secret of secrets) expect(output).not.toContain(secret);
      }
    } finally {
      await guarded.destroy();
    }
  });

  it('shuts down on SIGTERM: drains, leaves the member registry, closes connections, exits 0', async () => {
    const redis = new Redis(process.env.REDIS_URL ?? '');
    try {
      expect(await redis.zscore(channelKeys(channel).members, r1.id)).not.toBeNull();
      const clients = async () =>
        String(await redis.call('CLIENT', 'LIST'))
          .split('\n')
          .filter((l) => l.includes(` name=${r1.id}:`)).length;
      expect(await clients()).toBe(2);

      // A request held up by a paused database is in flight when SIGTERM arrives; it must complete.
      const book = await created(json('POST', `${r2.url}/books`, { name: 'In flight', author: 'n/a', year: 1 }));
      const mongoPid = Number(process.env.TEST_MONGO_PID);
      expect(mongoPid).toBeGreaterThan(0);
      process.kill(mongoPid, 'SIGSTOP');
      let slowRead: Promise<Response>;
      try {
        slowRead = fetch(`${r1.url}/books/${book.id}`);
        // Answered after the slow request was sent on another connection: the slow one has arrived.
        expect((await fetch(`${r1.url}/healthz`)).status).toBe(200);
        r1.child.kill('SIGTERM');
        await waitFor(() => r1.output().includes('shutting down'), { message: 'shutdown started' });
      } finally {
        process.kill(mongoPid, 'SIGCONT');
      }
      const response = await slowRead;
      expect(response.status).toBe(200);
      expect(((await response.json()) as { id: string }).id).toBe(book.id);
      expect(await r1.stop('SIGTERM')).toBe(0);
      const shutdownLog = r1
        .output()
        .split('\n')
        .find((line) => line.includes('shutting down'));
      expect(JSON.parse(shutdownLog ?? '{}')).toMatchObject({ signal: 'SIGTERM', inFlight: 1 });
      expect(r1.output()).toContain('shutdown complete');
      expect(await redis.zscore(channelKeys(channel).members, r1.id)).toBeNull();
      expect(await clients()).toBe(0);
    } finally {
      redis.disconnect();
    }
  });
});

describe('shutdown with the trace collector gone', () => {
  it('still exits 0: spans it cannot flush are reported, not fatal', async () => {
    const closed = await freePort(); // nothing listens there
    const replica = await spawnReplica(
      uniqueName('otlp-gone'),
      processEnv('otlp', {
        OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${closed}`,
        OTEL_EXPORTER_OTLP_TIMEOUT: '1000',
        SHUTDOWN_TIMEOUT_MS: '30000',
      }),
    );
    const created = await fetch(`${replica.url}/books`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: uniqueName('spans'), author: 'n/a', year: 1 }),
    });
    expect(created.status).toBe(201);
    const code = await replica.stop('SIGTERM');
    expect([code, replica.output().slice(-1500)]).toEqual([0, expect.stringContaining('shutdown complete')]);
  });
});
