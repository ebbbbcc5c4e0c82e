import { Redis } from 'ioredis';
import { waitFor } from '../../../service/local-stack/processes';
import { freshSigningKeys } from '../../../service/local-stack/signing-keys';
import { type Envelope, encodeEnvelope } from '../src/sync/envelope';
import { MAX_JUMP } from '../src/sync/gap-detector';
import { EnvelopeSigner, parseSigningKeys } from '../src/sync/signing';
import { epochOf } from '../src/testing';
import { sampleMessage } from './fixtures';
import { type Replica, startReplicas } from './redis-fixtures';

/**
 * Forged messages on the channel, as anyone who can publish there would send them, against two
 * synced caches on real Redis. Expected, for every row:
 * - signing on: each forged message is rejected and counted by reason, and changes nothing else;
 * - signing off: the real invalidation that follows is still applied, `missed` moves by at most
 *   MAX_JUMP a message, the lag histogram takes no absurd value, nothing crashes.
 */
interface Attack {
  name: string;
  /** The forged payloads, given the writer's identity and the last number it used. */
  forge(writer: { origin: string; epoch: string; lastSeq: number }): string[];
  /** The reason a signing replica rejects them with. */
  signedReason: string;
}

const now = () => Date.now();
const heartbeat = (origin: string, epoch: string, seq: number, publishedAt = now()) =>
  encodeEnvelope({ v: 1, type: 'heartbeat', origin, epoch, seq, publishedAt });

const ATTACKS: Attack[] = [
  {
    name: 'heartbeat from the writer with seq 2^53-1',
    forge: ({ origin, epoch }) => [heartbeat(origin, epoch, Number.MAX_SAFE_INTEGER)],
    signedReason: 'unsigned',
  },
  {
    name: 'two heartbeats far ahead, one after the other',
    forge: ({ origin, epoch, lastSeq }) => [
      heartbeat(origin, epoch, lastSeq + 1e12),
      heartbeat(origin, epoch, lastSeq + 1e12 + 1),
    ],
    signedReason: 'unsigned',
  },
  {
    name: 'the next number of the writer, taken first',
    forge: ({ origin, epoch, lastSeq }) => [
      heartbeat(origin, epoch, lastSeq + 1),
      heartbeat(origin, epoch, lastSeq + 2),
    ],
    signedReason: 'unsigned',
  },
  {
    name: 'a jump just within the limit',
    forge: ({ origin, epoch, lastSeq }) => [heartbeat(origin, epoch, lastSeq + MAX_JUMP)],
    signedReason: 'unsigned',
  },
  {
    name: 'a new epoch of the writer with seq 2^53-1',
    forge: ({ origin }) => [heartbeat(origin, 'forged-epoch', Number.MAX_SAFE_INTEGER)],
    signedReason: 'unsigned',
  },
  {
    name: 'an invalidation published a day in the future',
    forge: ({ origin, epoch, lastSeq }) => [
      encodeEnvelope(sampleMessage({ origin, epoch, seq: lastSeq + 3, publishedAt: now() + 86_400_000 })),
    ],
    signedReason: 'unsigned',
  },
  {
    name: 'an invalidation published in 1970',
    forge: ({ origin, epoch, lastSeq }) => [
      encodeEnvelope(sampleMessage({ origin, epoch, seq: lastSeq + 3, publishedAt: 1, committedAt: 1 })),
    ],
    signedReason: 'unsigned',
  },
  {
    name: 'heartbeats from 3,000 made-up origins',
    forge: () => Array.from({ length: 3000 }, (_, i) => heartbeat(`ghost-${i}`, 'e', 2 ** 40)),
    signedReason: 'unsigned',
  },
  {
    name: 'a 70 KB message',
    forge: ({ origin, epoch }) => [heartbeat(origin, epoch, 1).replace('"v":1', `"pad":"${'x'.repeat(70_000)}","v":1`)],
    signedReason: 'oversized',
  },
];

const ID = '6566f0c1a1b2c3d4e5f60718';
const KEY = `id:${ID}`;

describe.each([
  ['signing on', true],
  ['signing off', false],
])('forged messages, %s', (_name, signed) => {
  const keys = freshSigningKeys('forgery');
  let close: () => Promise<void>;
  let writer: Replica;
  let reader: Replica;
  let channel: string;
  let raw: Redis;
  let listener: Redis;
  const lastSeqOf = new Map<string, number>();
  /** The source of truth: the record's committed version. */
  let version = 1;
  const load = async () => ({ id: ID, version });

  beforeAll(async () => {
    const started = await startReplicas(2, { sync: { mode: 'pubsub' }, signing: signed ? { keys } : undefined });
    [writer, reader] = started.replicas as [Replica, Replica];
    ({ channel, close } = started);
    raw = new Redis(process.env.REDIS_URL ?? '');
    // What any subscriber of the channel can read: every sender's origin, epoch and numbers.
    listener = new Redis(process.env.REDIS_URL ?? '');
    listener.on('message', (_channel: string, payload: string) => {
      try {
        const message = JSON.parse(payload) as Envelope;
        lastSeqOf.set(`${message.origin}/${message.epoch}`, message.seq);
      } catch {
        // not a message of ours
      }
    });
    await listener.subscribe(channel);
    await waitFor(async () => (await writer.metric('cache_invalidation_members')) === 2, { message: '2 members' });
    expect(await reader.metric('cache_sync_signing_enabled')).toBe(signed ? 1 : 0);
  });
  afterAll(async () => {
    await close();
    raw.disconnect();
    listener.disconnect();
  });

  it.each(ATTACKS.map((a) => [a.name, a] as const))('%s', async (_attack, attack) => {
    // The reader caches the record; the attacker speaks; then a real write must still reach the reader.
    await waitFor(async () => (await reader.cache.getOrLoad(KEY, load)).hit, { message: 'the reader caches it' });
    const cached = version;
    const origin = writer.cache.replicaId;
    const epoch = epochOf(writer.cache);
    const lastSeq = await waitFor(() => lastSeqOf.get(`${origin}/${epoch}`), { message: 'a message from the writer' });
    const before = {
      rejected: await reader.metric('cache_invalidations_rejected_total', { reason: attack.signedReason }),
      missed: await reader.metric('cache_invalidations_missed_total'),
      lagSum: await reader.metric('cache_invalidation_lag_seconds_sum'),
    };
    const forged = attack.forge({ origin, epoch, lastSeq });
    for (const payload of forged) await raw.publish(channel, payload);

    // other branch: unsigned, a forgery may be accepted and evict (the worst it can do); the checks
    // after the real write below hold in both cases.
    if (signed) {
      await waitFor(
        async () =>
          (await reader.metric('cache_invalidations_rejected_total', { reason: attack.signedReason })) ===
          before.rejected + forged.length,
        { message: `${forged.length} rejected as ${attack.signedReason}` },
      );
      expect(reader.cache.peek(KEY)?.version).toBe(cached);
    }

    version += 1;
    await writer.cache.announce({ keys: [KEY], id: ID, version, op: 'update' });
    await waitFor(async () => (await reader.cache.getOrLoad(KEY, load)).value?.version === version, {
      message: 'the real invalidation applied on the reader',
    });
    expect(await reader.metric('cache_invalidations_missed_total')).toBeLessThanOrEqual(before.missed + MAX_JUMP);
    expect((await reader.metric('cache_invalidation_lag_seconds_sum')) - before.lagSum).toBeLessThan(60);
    expect(await reader.metric('cache_invalidation_origins')).toBeLessThanOrEqual(1024);
    expect(reader.cache.trusted()).toBe(true);
  });

  it('a replayed real message changes nothing (signed or not)', async () => {
    const captured: string[] = [];
    listener.on('message', (_c: string, payload: string) => captured.push(payload));
    version += 1;
    await writer.cache.announce({ keys: [KEY], id: ID, version, op: 'update' });
    const message = await waitFor(() => captured.find((p) => p.includes(`"version":${version}`)));
    const duplicates = await reader.metric('cache_invalidations_rejected_total', { reason: 'duplicate' });
    await raw.publish(channel, message);
    await waitFor(
      async () =>
        (await reader.metric('cache_invalidations_rejected_total', { reason: 'duplicate' })) === duplicates + 1,
      { message: 'counted as a duplicate' },
    );
    // other branch: an unsigned message carries no signature to verify; the duplicate count above holds for both.
    if (signed) expect(new EnvelopeSigner(parseSigningKeys(keys)).verify(message).ok).toBe(true);
  });
});
