import { encodeEnvelope } from '@local-cache-sync/core/wire';
import { Redis } from 'ioredis';
import { waitFor } from '../../local-stack/processes';
import { sampleMessage } from '../harness/fixtures';
import { http, metricValue, type RunningReplica, startCluster } from '../harness/replicas';

/**
 * Forgeries end to end, where the service's own parts take part: a forged future time must not
 * move the stream replay's cursor (the chaos switch holds the reader out while the write lands).
 * The attacks on the channel themselves are tested in the library (packages/core/test/forgery.test.ts).
 */
describe('a forged future time cannot suppress stream replay (signing off)', () => {
  let replicas: RunningReplica[] = [];
  afterAll(async () => {
    await Promise.all(replicas.map((r) => r.stop()));
  });

  it('replays the write the reader missed after a forged message dated a day ahead', async () => {
    replicas = await startCluster(2, {
      SYNC_MODE: 'stream',
      SYNC_SIGNING_KEYS: undefined,
      CHAOS_ENABLED: true,
      SYNC_JITTER_MS: 0,
    });
    const [writer, reader] = replicas as [RunningReplica, RunningReplica];
    const id = (await http('POST', `${writer.url}/books`, { name: 'Replay me', author: 'n/a', year: 1 })).json
      .id as string;
    await http('GET', `${reader.url}/books/${id}`);
    expect(reader.cache.peek(`id:${id}`)?.version).toBe(1);

    const raw = new Redis(process.env.REDIS_URL ?? '');
    const forged = sampleMessage({ origin: 'intruder', epoch: 'e', seq: 1, publishedAt: Date.now() + 86_400_000 });
    await raw.publish(reader.config.INVALIDATION_CHANNEL, encodeEnvelope(forged)).finally(() => raw.disconnect());
    await waitFor(async () => (await metricValue(reader, 'cache_invalidation_times_refused_total')) > 0, {
      message: 'the forged time refused',
    });

    const replayedBefore = await metricValue(reader, 'cache_invalidations_replayed_total');
    const resume = await reader.chaos!.holdSubscriber(); // what is published meanwhile reaches it only through the log
    const written = (await http('PATCH', `${writer.url}/books/${id}`, { year: 2 })).json.version as number;
    await resume();
    await waitFor(() => reader.transport.subscriberState === 'up' && reader.cache.trusted(), {
      message: 'subscribed and trusted again',
    });
    // The write reached it by replay from the log, despite the forged time.
    await waitFor(async () => (await metricValue(reader, 'cache_invalidations_replayed_total')) > replayedBefore, {
      message: 'the missed write replayed',
    });
    expect(reader.cache.peek(`id:${id}`)).toBeUndefined();
    expect((await http('GET', `${reader.url}/books/${id}`)).json.version).toBe(written);
  });
});
