import type { SyncMode } from '@local-cache-sync/core';
import { startHeartbeats, stopHeartbeats } from '@local-cache-sync/core/testing';
import { channelKeys } from '@local-cache-sync/core/transport';
import { Redis } from 'ioredis';
import { waitFor } from '../../local-stack/processes';
import { Toxiproxy } from '../../local-stack/toxiproxy';
import type { Book } from '../../src/books/book';
import {
  http,
  metricValue,
  type RunningReplica,
  settled,
  startCluster,
  startReplica,
  testConfig,
  uniqueName,
} from '../harness/replicas';

const quick = { HEARTBEAT_INTERVAL_MS: 100, SYNC_SILENCE_MS: 600, SYNC_JITTER_MS: 50 };

/**
 * The read-populate race, made deterministic: replica A reads a book from MongoDB (version 1) and
 * is held before it fills its cache; meanwhile the book is written on replica B (version 2) and
 * B's invalidation reaches A; then A's read completes and tries to cache version 1.
 */
describe.each([
  ['pubsub', true],
  ['pubsub-flush', false],
  ['stream', false],
] as [SyncMode, boolean][])('read-populate race in %s mode', (mode, cachesStale) => {
  let replicas: RunningReplica[] = [];
  afterAll(async () => {
    await Promise.all(replicas.map((r) => r.stop()));
  });

  it(cachesStale ? 'caches the stale value (no fences)' : 'never caches the stale value (fill fences)', async () => {
    replicas = await startCluster(2, { ...quick, SYNC_MODE: mode });
    const [a, b] = replicas as [RunningReplica, RunningReplica];
    const id = (
      await settled([a], () => http('POST', `${b.url}/books`, { name: `Race ${mode}`, author: 'n/a', year: 1 }))
    ).json.id as string;

    let release: () => void = () => undefined;
    const held = new Promise<void>((resolve) => (release = resolve));
    let readDone: (book: Book | null) => void = () => undefined;
    const dbRead = new Promise<Book | null>((resolve) => (readDone = resolve));
    const original = a.repository.findById.bind(a.repository);
    a.repository.findById = async (bookId: string) => {
      const book = await original(bookId);
      readDone(book);
      await held;
      return book;
    };

    const slowRead = http('GET', `${a.url}/books/${id}`);
    expect((await dbRead)?.version).toBe(1);
    const receivedBefore = await metricValue(a, 'cache_invalidations_received_total');
    expect((await http('PATCH', `${b.url}/books/${id}`, { year: 2 })).json.version).toBe(2);
    await waitFor(async () => (await metricValue(a, 'cache_invalidations_received_total')) >= receivedBefore + 2, {
      message: 'the invalidation reached A during its read',
    });
    release();
    expect((await slowRead).json.version).toBe(1); // that read was legitimately served before the write
    a.repository.findById = original;

    const next = await http('GET', `${a.url}/books/${id}`);
    if (cachesStale) {
      expect({ cache: next.headers.get('x-cache'), version: next.json.version }).toEqual({ cache: 'HIT', version: 1 });
    } else {
      expect({ cache: next.headers.get('x-cache'), version: next.json.version }).toEqual({ cache: 'MISS', version: 2 });
      expect(await metricValue(a, 'cache_fill_fence_rejections_total')).toBe(1);
    }
  });
});

describe('pubsub-flush recovery', () => {
  let replicas: RunningReplica[] = [];
  let toxiproxy: Toxiproxy | undefined;
  afterAll(async () => {
    await Promise.all(replicas.map((r) => r.stop()));
    await toxiproxy?.destroy();
  });

  it('bypasses the cache while the subscriber is down, then flushes on reconnect, and on a gap', async () => {
    // B reaches Redis through a proxy, so the test decides how long its subscriber stays down.
    toxiproxy = await Toxiproxy.start();
    const redisPort = Number(new URL(process.env.REDIS_URL ?? '').port);
    const proxy = await toxiproxy.proxy('sync-modes-b', redisPort);
    const shared = testConfig({ ...quick, SYNC_MODE: 'pubsub-flush', CHAOS_ENABLED: true });
    replicas = [
      await startReplica({ ...shared, REPLICA_ID: `${shared.REPLICA_ID}-1` }),
      await startReplica({
        ...shared,
        REPLICA_ID: `${shared.REPLICA_ID}-2`,
        REDIS_URL: `redis://127.0.0.1:${proxy.port}`,
      }),
    ];
    const [a, b] = replicas as [RunningReplica, RunningReplica];
    const id = (await http('POST', `${a.url}/books`, { name: 'Flush', author: 'n/a', year: 1 })).json.id as string;
    await http('GET', `${b.url}/books/${id}`);
    expect((await http('GET', `${b.url}/books/${id}`)).headers.get('x-cache')).toBe('HIT');

    await proxy.cutOff(); // the connection drops, and every reconnect is refused until restore()
    await waitFor(() => b.transport.subscriberState === 'down', { message: 'subscriber down' });
    expect((await http('GET', `${b.url}/books/${id}`)).headers.get('x-cache')).toBe('MISS');
    await proxy.restore();
    await waitFor(
      async () =>
        (await metricValue(b, 'cache_sync_recoveries_total', { mode: 'pubsub-flush', reason: 'reconnect' })) === 1,
      {
        message: 'flush after reconnect',
      },
    );
    expect(await metricValue(b, 'cache_evictions_total', { reason: 'flush' })).toBeGreaterThanOrEqual(1);
    expect(b.cache.size).toBe(0);

    // A gap: A's next two invalidations are lost on the wire; B learns of it from the next message.
    // First let a message arrive after the reconnect, so any gap the disconnect left is counted.
    const reconnectedAt = Date.now() / 1000;
    await waitFor(
      async () => (await metricValue(b, 'cache_invalidation_last_received_timestamp_seconds')) > reconnectedAt,
    );
    await waitFor(() => b.cache.trusted(), { message: 'trusted again' });
    // ... once its reorder window (1 s) has passed: unchanged for longer than that.
    let missedSeen = -1;
    let unchangedSince = Date.now();
    await waitFor(
      async () => {
        const now = await metricValue(b, 'cache_invalidations_missed_total');
        if (now !== missedSeen) [missedSeen, unchangedSince] = [now, Date.now()];
        return Date.now() - unchangedSince > 1_500;
      },
      { message: 'the gaps of the disconnect counted' },
    );
    const gapsBefore = await metricValue(b, 'cache_sync_recoveries_total', { mode: 'pubsub-flush', reason: 'gap' });
    await http('GET', `${b.url}/books/${id}`);
    expect(b.cache.size).toBe(1);
    await fetch(`${a.url}/books/${id}`); // warm A too
    const missedBefore = await metricValue(b, 'cache_invalidations_missed_total');
    a.chaos!.dropNextPublishes(2);
    await http('PATCH', `${a.url}/books/${id}`, { year: 2 });
    await http('PATCH', `${a.url}/books/${id}`, { year: 3 });
    await waitFor(
      async () =>
        (await metricValue(b, 'cache_sync_recoveries_total', { mode: 'pubsub-flush', reason: 'gap' })) ===
        gapsBefore + 1,
      {
        message: 'flush after a gap',
      },
    );
    // The flush did not wait; the two count as missed once the reorder window has passed
    // without them (a retried publish could still have brought them). A heartbeat between them
    // makes two gaps, each counted when its own window ends.
    await waitFor(async () => (await metricValue(b, 'cache_invalidations_missed_total')) >= missedBefore + 2, {
      timeoutMs: 15_000,
      message: 'the gap counted as missed',
    });
    expect(await metricValue(b, 'cache_invalidations_missed_total')).toBe(missedBefore + 2);
    expect((await http('GET', `${b.url}/books/${id}`)).json.version).toBe(3);
  });

  it('stops trusting the cache when peers fall silent beyond the timeout', async () => {
    const [a, b] = replicas as [RunningReplica, RunningReplica];
    const id = (await http('POST', `${a.url}/books`, { name: 'Silence', author: 'n/a', year: 1 })).json.id as string;
    const silencesBefore = await metricValue(b, 'cache_sync_recoveries_total', {
      mode: 'pubsub-flush',
      reason: 'silence',
    });
    await http('GET', `${b.url}/books/${id}`);
    // A stops heartbeating (as if paused); B hears nothing for longer than SYNC_SILENCE_MS.
    stopHeartbeats(a.cache);
    await waitFor(async () => (await http('GET', `${b.url}/books/${id}`)).headers.get('x-cache') === 'MISS', {
      message: 'bypass on silence',
    });
    expect(await metricValue(b, 'cache_sync_trusted')).toBe(0);
    // The old name keeps working for one release.
    expect(await metricValue(b, 'cache_sync_cache_usable')).toBe(0);
    startHeartbeats(a.cache);
    await waitFor(
      async () =>
        (await metricValue(b, 'cache_sync_recoveries_total', { mode: 'pubsub-flush', reason: 'silence' })) ===
        silencesBefore + 1,
      {
        message: 'flush when peers speak again',
      },
    );
    await http('GET', `${b.url}/books/${id}`);
    expect((await http('GET', `${b.url}/books/${id}`)).headers.get('x-cache')).toBe('HIT');
  });
});

describe('stream recovery', () => {
  let replicas: RunningReplica[] = [];
  const channel = uniqueName('book-channel');
  afterAll(async () => {
    await Promise.all(replicas.map((r) => r.stop()));
  });

  it('replays exactly the invalidations it missed from the log, without flushing', async () => {
    replicas = await startCluster(2, {
      ...quick,
      SYNC_MODE: 'stream',
      CHAOS_ENABLED: true,
      INVALIDATION_CHANNEL: channel,
    });
    const [a, b] = replicas as [RunningReplica, RunningReplica];
    const ids: string[] = [];
    for (let i = 0; i < 5; i += 1)
      ids.push(
        (await http('POST', `${a.url}/books`, { name: `Stream ${i}`, author: 'n/a', year: 1 })).json.id as string,
      );
    for (const id of ids) await http('GET', `${b.url}/books/${id}`);
    expect(b.cache.size).toBe(5);

    const resume = await b.chaos!.holdSubscriber(); // unsubscribed: these writes never reach it over Pub/Sub
    for (const id of ids.slice(0, 3)) await http('PATCH', `${a.url}/books/${id}`, { year: 2 });
    await resume();
    // Three writes: three key invalidations and three tag invalidations of their author lists.
    await waitFor(async () => (await metricValue(b, 'cache_invalidations_replayed_total')) === 6, {
      message: 'six messages replayed',
    });
    await waitFor(() => b.cache.trusted(), { message: 'cache trusted again' });

    expect(await metricValue(b, 'cache_evictions_total', { reason: 'flush' })).toBe(0);
    expect(b.cache.size).toBe(2); // the two books nobody wrote are still cached
    for (const id of ids)
      expect((await http('GET', `${b.url}/books/${id}`)).json.version).toBe(ids.indexOf(id) < 3 ? 2 : 1);
  });

  it.each([
    // Trimmed entirely, as MAXLEN would after a long outage.
    ['no longer reaches back far enough', (redis: Redis) => redis.xtrim(channelKeys(channel).log, 'MAXLEN', 0)],
    [
      'is gone altogether (a Redis restarted without persistence)',
      (redis: Redis) => redis.del(channelKeys(channel).log),
    ],
  ])('flushes when the log %s', async (what, loseTheLog) => {
    const [a, b] = replicas as [RunningReplica, RunningReplica];
    const id = (await http('POST', `${a.url}/books`, { name: `Log ${what}`, author: 'n/a', year: 1 })).json
      .id as string;
    // The previous case's recovery may still be finishing: b caches nothing until it trusts its cache.
    await waitFor(() => b.cache.trusted(), { message: 'b trusts its cache' });
    await http('GET', `${b.url}/books/${id}`);
    expect(b.cache.peek(`id:${id}`)?.version).toBe(1);
    const flushesBefore = await metricValue(b, 'cache_evictions_total', { reason: 'flush' });
    // Held out until the write and the loss of the log are done.
    const resume = await b.chaos!.holdSubscriber();
    await http('PATCH', `${a.url}/books/${id}`, { year: 2 });
    const redis = new Redis(process.env.REDIS_URL ?? '');
    await loseTheLog(redis).finally(() => redis.disconnect());
    await resume();
    await waitFor(async () => (await metricValue(b, 'cache_evictions_total', { reason: 'flush' })) > flushesBefore, {
      message: 'flush instead of replay',
    });
    expect((await http('GET', `${b.url}/books/${id}`)).json.version).toBe(2);
  });
});
