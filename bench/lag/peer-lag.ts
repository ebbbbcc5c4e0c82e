import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { ROOT, waitFor } from '../../service/local-stack/processes';
import { METER_LEAD_MS } from './lag-bench';
import { type LatencyStats, stats } from './latency';
import { startReceivers } from './receivers';

/** The systems the lag is compared with: each with its own local cache and its own invalidation. */
export const PEER_SYSTEMS = ['bentocache', 'node-redis'] as const;
export type PeerSystem = (typeof PEER_SYSTEMS)[number];

export const PEER_NAMES: Record<PeerSystem, string> = {
  bentocache: 'BentoCache 1.6.1 (memory L1, Redis L2, Redis bus)',
  'node-redis': 'node-redis 6.3.1 client-side caching (RESP3 tracking)',
};

export interface PeerRun extends LatencyStats {
  system: PeerSystem;
  receivers: number;
  rate: number;
  achievedRate: number;
  /** Evictions that never happened on some receiver. */
  lost: number;
  /** The receivers' CPU and V8 heap allocated per eviction, from ready to the end of the run. */
  cpuUsPerMessage: number;
  heapBytesPerMessage: number;
}

const PEERS = join(ROOT, 'bench/peers');
const RECEIVER = join(PEERS, 'receiver.mjs');
const PUBLISHER = join(PEERS, 'publisher.mjs');

/**
 * Publish-to-evict lag of a peer system: a publisher process (bench/peers/publisher.mjs)
 * invalidates at `rate` for `seconds` with the peer's own API, and `receivers` processes
 * (bench/peers/receiver.mjs) each hold the peer's local cache and time their own eviction. The
 * peers run in processes of their own: they are ES modules with their own dependencies
 * (bench/peers/package.json; BentoCache wants ioredis 5).
 */
export async function peerLag(
  system: PeerSystem,
  redisUrl: string,
  receivers: number,
  rate: number,
  seconds: number,
  startAt?: number,
  warm = 0,
): Promise<PeerRun> {
  const run = system === 'bentocache' ? bentoLag : nodeRedisLag;
  const { lags, sent, elapsed, costs } = await run(redisUrl, receivers, rate, seconds, startAt, warm);
  const sum = (pick: (c: Costs) => number) => costs.reduce((n, c) => n + pick(c), 0);
  return {
    system,
    receivers,
    rate,
    achievedRate: sent / elapsed,
    lost: Math.max(0, sent * receivers - lags.length),
    ...stats(lags),
    cpuUsPerMessage: lags.length > 0 ? sum((c) => c.cpuUs) / lags.length : Number.NaN,
    heapBytesPerMessage: lags.length > 0 ? sum((c) => c.allocatedBytes) / lags.length : Number.NaN,
  };
}

type Published = { sent: number; elapsed: number; sentAt: number[] };
/** What each receiver measured of itself (bench/peers/receiver.mjs). */
type Costs = { cpuUs: number; allocatedBytes: number };
type Measured = { lags: number[]; sent: number; elapsed: number; costs: Costs[] };
/**
 * One peer's run: its receivers started, then its writer from `startAt` (epoch ms; at once
 * without), after `warm` unrecorded invalidations to every receiver (none: 0).
 */
type PeerLag = (
  redisUrl: string,
  receivers: number,
  rate: number,
  seconds: number,
  startAt: number | undefined,
  warm: number,
) => Promise<Measured>;
/** The peers' warm-up pace (bench/peers/publisher.mjs). */
export const PEER_WARM_UP_RATE = 5000;
/** How long before a run at once the peers' warm-up must start: twice its length at pace, for a slow machine. */
export const warmUpLeadMs = (warm: number) => (warm > 0 ? (2 * 1000 * warm) / PEER_WARM_UP_RATE : 0);
/** A writer's start, or a node-redis receiver's meter start, then the warm-up: [<epoch ms>|-] [<warm>]. */
const startArgs = (startAt: number | undefined, warm: number) => {
  const at = startAt === undefined ? '-' : String(startAt);
  return warm > 0 ? [at, String(warm)] : startAt === undefined ? [] : [at];
};
/** The receivers' meters start just before the writers of a run at once. */
const meterAt = (startAt: number | undefined) => (startAt === undefined ? undefined : startAt - METER_LEAD_MS);

async function publish(args: string[]): Promise<Published> {
  const [result] = await (await startReceivers([[PUBLISHER, ...args]])).results();
  return result as Published;
}

const bentoLag: PeerLag = async (redisUrl, receivers, rate, seconds, startAt, warm) => {
  const store = `bench${randomBytes(4).toString('hex')}`;
  const meterFrom = meterAt(startAt);
  const started = await startReceivers(
    Array.from({ length: receivers }, () => [
      RECEIVER,
      'bentocache',
      redisUrl,
      store,
      ...(meterFrom === undefined ? [] : [String(meterFrom)]),
    ]),
  );
  const redis = new Redis(redisUrl);
  try {
    // Each receiver's bus subscribes once its store exists: wait until all of them listen.
    await waitFor(
      async () => {
        const [, listening] = (await redis.pubsub('NUMSUB', `bentocache.notifications:${store}`)) as [string, number];
        return listening >= receivers;
      },
      { timeoutMs: 15_000, message: `${receivers} BentoCache buses subscribed` },
    );
    const { sent, elapsed } = await publish([
      'bentocache',
      redisUrl,
      store,
      String(rate),
      String(seconds),
      ...startArgs(startAt, warm),
    ]);
    const outs = (await started.results()) as (Costs & { lags: number[] })[];
    return { lags: outs.flatMap((out) => out.lags), sent, elapsed, costs: outs };
  } finally {
    started.kill();
    redis.disconnect();
  }
};

const nodeRedisLag: PeerLag = async (redisUrl, receivers, rate, seconds, startAt, warm) => {
  const prefix = `csc-${randomBytes(4).toString('hex')}:`;
  const count = Math.round(rate * seconds);
  // Every key exists and is cached by every receiver before the run: tracking reports a write
  // only to the clients that read the key.
  await publish(['node-redis-seed', redisUrl, prefix, String(count), ...(warm > 0 ? [String(warm)] : [])]);
  const meterFrom = meterAt(startAt);
  const started = await startReceivers(
    Array.from({ length: receivers }, () => [
      RECEIVER,
      'node-redis',
      redisUrl,
      prefix,
      String(count),
      ...startArgs(meterFrom, warm),
    ]),
  );
  const redis = new Redis(redisUrl);
  try {
    const { sent, elapsed, sentAt } = await publish([
      'node-redis',
      redisUrl,
      prefix,
      String(rate),
      String(seconds),
      ...startArgs(startAt, warm),
    ]);
    const outs = (await started.results()) as (Costs & { evicted: [string, number][] })[];
    const lags = outs.flatMap((out) => out.evicted.map(([key, at]) => at - sentAt[Number(key.slice(prefix.length))]!));
    return { lags, sent, elapsed, costs: outs };
  } finally {
    started.kill();
    const keys = [
      ...Array.from({ length: count }, (_, i) => `${prefix}${i}`),
      `${prefix}end`,
      ...Array.from({ length: warm }, (_, i) => `${prefix}w${i}`),
      `${prefix}wdone`,
    ];
    for (let i = 0; i < keys.length; i += 1000) await redis.del(...keys.slice(i, i + 1000));
    redis.disconnect();
  }
};
