import { EnvelopeSigner, encodeEnvelope } from '@local-cache-sync/core/wire';
import { Redis } from 'ioredis';
import { waitFor } from '../../local-stack/processes';
import { subscriberClientId } from '../../local-stack/redis-clients';
import { sampleMessage } from '../harness/fixtures';
import { http, metricValue, type RunningReplica, startCluster } from '../harness/replicas';

describe('faults on the subscriber side', () => {
  let replicas: RunningReplica[] = [];
  let a: RunningReplica;
  let b: RunningReplica;
  let c: RunningReplica;
  let raw: Redis;
  let channel: string;
  let signer: EnvelopeSigner;

  beforeAll(async () => {
    replicas = await startCluster(3);
    [a, b, c] = replicas as [RunningReplica, RunningReplica, RunningReplica];
    raw = new Redis(process.env.REDIS_URL ?? '');
    channel = a.config.INVALIDATION_CHANNEL;
    signer = new EnvelopeSigner(a.config.SYNC_SIGNING_KEYS!);
    await waitFor(async () => (await metricValue(a, 'cache_invalidation_members')) === 3, { message: '3 members' });
  });
  afterAll(async () => {
    await Promise.all(replicas.map((r) => r.stop()));
    raw.disconnect();
  });

  it('CLIENT KILL of one subscriber while writes flow: missed > 0 there, a reconnect, and nothing lost elsewhere', async () => {
    const created = await http('POST', `${a.url}/books`, { name: 'Killed', author: 'n/a', year: 1 });
    const id = created.json.id as string;
    const subscriberId = await subscriberClientId(raw, b.id);
    expect(subscriberId).toBeDefined();

    let writing = true;
    let year = 1;
    const writer = (async () => {
      while (writing) {
        year += 1;
        await http('PATCH', `${a.url}/books/${id}`, { year });
      }
    })();
    await waitFor(async () => (await metricValue(b, 'cache_invalidations_received_total')) >= 5, {
      message: 'writes flowing',
    });
    expect(await raw.client('KILL', 'ID', subscriberId!)).toBe(1);

    await waitFor(async () => (await metricValue(b, 'cache_invalidation_subscriber_reconnects_total')) === 1, {
      message: 'reconnect',
    });
    await waitFor(async () => (await metricValue(b, 'cache_invalidations_missed_total')) > 0, {
      message: 'missed on b',
    });
    writing = false;
    await writer;

    expect(await metricValue(b, 'cache_invalidation_subscriber_up')).toBe(1);
    expect(await metricValue(a, 'cache_invalidation_receivers_missing_total')).toBeGreaterThan(0);
    expect(await subscriberClientId(raw, b.id)).not.toBe(subscriberId);
    for (const other of [a, c]) {
      expect(await metricValue(other, 'cache_invalidations_missed_total')).toBe(0);
      expect(await metricValue(other, 'cache_invalidation_subscriber_reconnects_total')).toBe(0);
    }
    // After the gap, new messages reach b again: b caches the newest version (one of the last
    // writes' messages may still be on its way, and cannot evict it), and the next write evicts it.
    await http('GET', `${b.url}/books/${id}`);
    expect(b.cache.peek(`id:${id}`)).toBeDefined();
    const received = await metricValue(b, 'cache_invalidations_received_total');
    await http('PATCH', `${a.url}/books/${id}`, { year: 9999 });
    await waitFor(() => b.cache.peek(`id:${id}`) === undefined, { message: 'the next write evicts on b' });
    expect(await metricValue(b, 'cache_invalidations_received_total')).toBeGreaterThan(received);
  });

  it('rejects and counts garbage on the channel, never evicting or crashing', async () => {
    const created = await http('POST', `${a.url}/books`, { name: 'Garbage', author: 'n/a', year: 1 });
    const id = created.json.id as string;
    await http('GET', `${c.url}/books/${id}`);
    expect(c.cache.peek(`id:${id}`)).toBeDefined();

    // Unsigned, from anyone on the channel; then signed with the replicas' key but malformed.
    const sign = (body: string) => signer.sign(body);
    const valid = encodeEnvelope(sampleMessage({ id, keys: [`id:${id}`], version: 99, publishedAt: Date.now() }));
    const bad: [string, string][] = [
      ['unsigned', 'book:1'],
      ['unsigned', '[]'],
      ['unsigned', valid],
      ['unknown_key', new EnvelopeSigner([{ id: 'other', secret: Buffer.alloc(32, 1) }]).sign(valid)],
      ['bad_signature', sign(valid).replace('"version":99', '"version":98')],
      ['malformed_json', sign('{"v":1,"keys":}')],
      ['invalid_envelope', sign('{"v":1}')],
      [
        'unsupported_version',
        sign(JSON.stringify({ ...sampleMessage({ id, keys: [`id:${id}`], version: 99 }), v: 2 })),
      ],
      ['foreign_cache', sign(encodeEnvelope(sampleMessage({ cache: 'author', id, keys: [`id:${id}`], version: 99 })))],
      ['key_mismatch', sign(encodeEnvelope(sampleMessage({ id: 'someone-else', keys: [`id:${id}`], version: 99 })))],
      ['invalid_envelope', sign(JSON.stringify({ ...sampleMessage({ id, keys: [`id:${id}`] }), version: '99' }))],
      ['oversized', 'x'.repeat(70 * 1024)],
    ];
    const before = Object.fromEntries(
      await Promise.all(
        bad.map(async ([reason]) => [reason, await metricValue(c, 'cache_invalidations_rejected_total', { reason })]),
      ),
    );
    const evictionsBefore = await metricValue(c, 'cache_evictions_total', { reason: 'invalidation' });
    for (const [, payload] of bad) await raw.publish(channel, payload);

    const expected: Record<string, number> = {};
    for (const [reason] of bad) expected[reason] = (expected[reason] ?? before[reason]) + 1;
    for (const [reason, count] of Object.entries(expected)) {
      await waitFor(async () => (await metricValue(c, 'cache_invalidations_rejected_total', { reason })) === count, {
        message: `rejected{reason=${reason}} = ${count}`,
      });
    }
    expect(c.cache.peek(`id:${id}`)?.version).toBe(1);
    expect((await http('GET', `${c.url}/books/${id}`)).headers.get('x-cache')).toBe('HIT');
    expect((await http('GET', `${c.url}/healthz`)).status).toBe(200);
    expect(await metricValue(c, 'cache_evictions_total', { reason: 'invalidation' })).toBe(evictionsBefore);
  });
});
