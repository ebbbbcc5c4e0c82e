import { epochOf } from '@local-cache-sync/core/testing';
import { type Envelope, EnvelopeSigner, encodeEnvelope, MAX_JUMP } from '@local-cache-sync/core/wire';
import { Redis } from 'ioredis';
import { waitFor } from '../../local-stack/processes';
import { sampleMessage } from '../harness/fixtures';
import { http, metricValue, type RunningReplica, startCluster } from '../harness/replicas';

/**
 * Forged messages on the channel, as anyone who can publish there would send them, against real
 * replicas on real Redis and FerretDB. Expected, for every row:
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

describe.each([
  ['signing on', true],
  ['signing off', false],
])('forged messages, %s', (_name, signed) => {
  let replicas: RunningReplica[] = [];
  let writer: RunningReplica;
  let reader: RunningReplica;
  let raw: Redis;
  let listener: Redis;
  const lastSeqOf = new Map<string, number>();
  let bookId = '';

  beforeAll(async () => {
    replicas = await startCluster(2, signed ? {} : { SYNC_SIGNING_KEYS: undefined });
    [writer, reader] = replicas as [RunningReplica, RunningReplica];
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
    await listener.subscribe(writer.config.INVALIDATION_CHANNEL);
    bookId = (await http('POST', `${writer.url}/books`, { name: `Forged ${signed}`, author: 'n/a', year: 1 })).json
      .id as string;
    await waitFor(async () => (await metricValue(writer, 'cache_invalidation_members')) === 2, {
      message: '2 members',
    });
    expect(await metricValue(reader, 'cache_sync_signing_enabled')).toBe(signed ? 1 : 0);
  });
  afterAll(async () => {
    await Promise.all(replicas.map((r) => r.stop()));
    raw.disconnect();
    listener.disconnect();
  });

  it.each(ATTACKS.map((a) => [a.name, a] as const))('%s', async (_attack, attack) => {
    // The reader caches the book; the attacker speaks; then a real write must still reach the reader.
    const cached = (await http('GET', `${reader.url}/books/${bookId}`)).json.version as number;
    await waitFor(async () => (await http('GET', `${reader.url}/books/${bookId}`)).headers.get('x-cache') === 'HIT');
    const origin = writer.id;
    const epoch = epochOf(writer.cache);
    const lastSeq = await waitFor(() => lastSeqOf.get(`${origin}/${epoch}`), { message: 'a message from the writer' });
    const before = {
      rejected: await metricValue(reader, 'cache_invalidations_rejected_total', { reason: attack.signedReason }),
      missed: await metricValue(reader, 'cache_invalidations_missed_total'),
      lagSum: await metricValue(reader, 'cache_invalidation_lag_seconds_sum'),
    };
    const forged = attack.forge({ origin, epoch, lastSeq });
    for (const payload of forged) await raw.publish(writer.config.INVALIDATION_CHANNEL, payload);

    // other branch: unsigned, a forgery may be accepted and evict (the worst it can do); the checks
    // after the real write below hold in both cases.
    if (signed) {
      await waitFor(
        async () =>
          (await metricValue(reader, 'cache_invalidations_rejected_total', { reason: attack.signedReason })) ===
          before.rejected + forged.length,
        { message: `${forged.length} rejected as ${attack.signedReason}` },
      );
      expect(reader.cache.peek(`id:${bookId}`)?.version).toBe(cached);
    }

    const written = (await http('PATCH', `${writer.url}/books/${bookId}`, { year: cached + 1 })).json.version as number;
    await waitFor(async () => (await http('GET', `${reader.url}/books/${bookId}`)).json.version === written, {
      message: 'the real invalidation applied on the reader',
    });
    expect(await metricValue(reader, 'cache_invalidations_missed_total')).toBeLessThanOrEqual(before.missed + MAX_JUMP);
    expect((await metricValue(reader, 'cache_invalidation_lag_seconds_sum')) - before.lagSum).toBeLessThan(60);
    expect(await metricValue(reader, 'cache_invalidation_origins')).toBeLessThanOrEqual(1024);
    expect((await http('GET', `${reader.url}/healthz`)).status).toBe(200);
  });

  it('a replayed real message changes nothing (signed or not)', async () => {
    const captured: string[] = [];
    listener.on('message', (_c: string, payload: string) => captured.push(payload));
    const version = (await http('PATCH', `${writer.url}/books/${bookId}`, { year: 7 })).json.version as number;
    const message = await waitFor(() => captured.find((p) => p.includes(`"version":${version}`)));
    const duplicates = await metricValue(reader, 'cache_invalidations_rejected_total', { reason: 'duplicate' });
    await raw.publish(writer.config.INVALIDATION_CHANNEL, message);
    await waitFor(
      async () =>
        (await metricValue(reader, 'cache_invalidations_rejected_total', { reason: 'duplicate' })) === duplicates + 1,
      { message: 'counted as a duplicate' },
    );
    // other branch: an unsigned message carries no signature to verify; the duplicate count above holds for both.
    if (signed) expect(new EnvelopeSigner(writer.config.SYNC_SIGNING_KEYS!).verify(message).ok).toBe(true);
  });
});

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
