import { Redis } from 'ioredis';
import { waitFor } from '../../../service/local-stack/processes';
import { subscriberClientId } from '../../../service/local-stack/redis-clients';
import { freshSigningKeys } from '../../../service/local-stack/signing-keys';
import { encodeEnvelope } from '../src/sync/envelope';
import { EnvelopeSigner, parseSigningKeys } from '../src/sync/signing';
import { SCOPE, sampleMessage } from './fixtures';
import { type Replica, startReplicas } from './redis-fixtures';

/**
 * Three synced caches on real Redis, signed, with the Book service's key scheme. Expected: a
 * subscriber whose connection Redis kills counts what it missed and comes back, the others count
 * nothing; garbage on the channel is rejected by reason and evicts nothing.
 */
describe('faults on the subscriber side', () => {
  const keys = freshSigningKeys('faults');
  let close: () => Promise<void>;
  let a: Replica;
  let b: Replica;
  let c: Replica;
  let raw: Redis;
  let channel: string;
  const versions = new Map<string, number>();
  const load = (id: string) => async () => ({ id, version: versions.get(id) ?? 1 });
  /** A committed write of record `id`, announced by `replica`. */
  const write = async (replica: Replica, id: string) => {
    const version = (versions.get(id) ?? 1) + 1;
    versions.set(id, version);
    await replica.cache.announce({ keys: [`id:${id}`], id, version, op: 'update' });
  };

  beforeAll(async () => {
    const started = await startReplicas(3, { signing: { keys }, sync: { mode: 'pubsub', isKeyOf: SCOPE.isKeyOf } });
    [a, b, c] = started.replicas as [Replica, Replica, Replica];
    ({ channel, close } = started);
    raw = new Redis(process.env.REDIS_URL ?? '');
    await waitFor(async () => (await a.metric('cache_invalidation_members')) === 3, { message: '3 members' });
  });
  afterAll(async () => {
    await close();
    raw.disconnect();
  });

  it('CLIENT KILL of one subscriber while writes flow: missed > 0 there, a reconnect, and nothing lost elsewhere', async () => {
    const id = '6566f0c1a1b2c3d4e5f60001';
    const subscriberId = await subscriberClientId(raw, b.cache.replicaId);
    expect(subscriberId).toBeDefined();

    let writing = true;
    const writer = (async () => {
      while (writing) {
        await write(a, id);
        await new Promise((resolve) => setTimeout(resolve, 1)); // a steady flow, not a flood
      }
    })();
    await waitFor(async () => (await b.metric('cache_invalidations_received_total')) >= 5, {
      message: 'writes flowing',
    });
    expect(await raw.client('KILL', 'ID', subscriberId!)).toBe(1);

    await waitFor(async () => (await b.metric('cache_invalidation_subscriber_reconnects_total')) === 1, {
      message: 'reconnect',
    });
    await waitFor(async () => (await b.metric('cache_invalidations_missed_total')) > 0, { message: 'missed on b' });
    writing = false;
    await writer;

    expect(await b.metric('cache_invalidation_subscriber_up')).toBe(1);
    expect(await a.metric('cache_invalidation_receivers_missing_total')).toBeGreaterThan(0);
    expect(await subscriberClientId(raw, b.cache.replicaId)).not.toBe(subscriberId);
    for (const other of [a, c]) {
      expect(await other.metric('cache_invalidations_missed_total')).toBe(0);
      expect(await other.metric('cache_invalidation_subscriber_reconnects_total')).toBe(0);
    }
    // After the gap, new messages reach b again: b caches the newest version (one of the last
    // writes' messages may still be on its way, and cannot evict it), and the next write evicts it.
    await b.cache.getOrLoad(`id:${id}`, load(id));
    expect(b.cache.peek(`id:${id}`)).toBeDefined();
    const received = await b.metric('cache_invalidations_received_total');
    await write(a, id);
    await waitFor(() => b.cache.peek(`id:${id}`) === undefined, { message: 'the next write evicts on b' });
    expect(await b.metric('cache_invalidations_received_total')).toBeGreaterThan(received);
  });

  it('rejects and counts garbage on the channel, never evicting or crashing', async () => {
    const id = '6566f0c1a1b2c3d4e5f60002';
    await c.cache.getOrLoad(`id:${id}`, load(id));
    expect(c.cache.peek(`id:${id}`)).toBeDefined();

    // Unsigned, from anyone on the channel; then signed with the replicas' key but malformed.
    const signer = new EnvelopeSigner(parseSigningKeys(keys));
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
        bad.map(async ([reason]) => [reason, await c.metric('cache_invalidations_rejected_total', { reason })]),
      ),
    );
    const evictionsBefore = await c.metric('cache_evictions_total', { reason: 'invalidation' });
    for (const [, payload] of bad) await raw.publish(channel, payload);

    const expected: Record<string, number> = {};
    for (const [reason] of bad) expected[reason] = (expected[reason] ?? before[reason]) + 1;
    for (const [reason, count] of Object.entries(expected)) {
      await waitFor(async () => (await c.metric('cache_invalidations_rejected_total', { reason })) === count, {
        message: `rejected{reason=${reason}} = ${count}`,
      });
    }
    expect(c.cache.peek(`id:${id}`)?.version).toBe(1);
    expect((await c.cache.getOrLoad(`id:${id}`, load(id))).hit).toBe(true);
    expect(c.cache.trusted()).toBe(true);
    expect(await c.metric('cache_evictions_total', { reason: 'invalidation' })).toBe(evictionsBefore);
  });
});
