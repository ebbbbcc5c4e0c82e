import { startRedisCluster } from '../service/local-stack/redis-topologies';
import {
  type LatencyStats,
  METER_LEAD_MS,
  type RunResult,
  rawPublishFloor,
  startLagBench,
  warmUp,
} from './lag/lag-bench';
import { PEER_SYSTEMS, type PeerRun, peerLag } from './lag/peer-lag';
import { type SidePlan, type SideRun, sideBySide } from './lag/side-by-side';
import { type SigningCost, signingCost } from './lag/signing-cost';
import { type CloneCost, cloneCost } from './read-path/clone-cost';
import { type InZoneResult, inZoneBench } from './read-path/in-zone';
import { type MemoryResult, memoryBench } from './read-path/memory';
import { type CoalescingPlan, type CoalescingRun, coalescingBench } from './read-path/miss-coalescing';
import {
  type HitPathCost,
  hitPathCost,
  type ReadCostRow,
  type ReadPathRow,
  readCostBench,
  readPathBench,
} from './read-path/read-path';
import { type TracingRun, tracingCostBench } from './read-path/tracing-cost';
import { type ReceiveCost, receiveCost } from './receive/receive-cost';
import { type ReceiveProfile, receiveProfile } from './receive/receive-profile';
import { type BenchServers, startBenchServers } from './servers';

export interface BenchPlan {
  cloneRounds: number;
  memoryEntries: number;
  readSeconds: number;
  /** The read path's sources, interleaved, this many times each. */
  readRepeats: number;
  /** Sequential reads per source for the in-process read cost. */
  readCostRounds: { local: number; redis: number; mongo: number };
  connections: number;
  /** Seconds of publishing per lag or throughput step. */
  stepSeconds: number;
  replicaCounts: number[];
  rates: number[];
  /** Each lag step (receivers x rate) runs the floor, the service and each peer this many times, interleaved. */
  lagRepeats: number;
  /** Replicas listening, and the rates tried in order, to find the highest with zero loss. */
  throughputReplicas: number;
  throughputRates: number[];
  /** Sign and verify rounds for the per-message cost. */
  signingRounds: number;
  /** Lag with signing on and off, interleaved, this many times each (at `signingRate`, `throughputReplicas`). */
  signingRepeats: number;
  signingRate: number;
  /** Lag on a 6-node Redis Cluster (SPUBLISH) against standalone (PUBLISH), interleaved, this many times each. */
  topologyRepeats: number;
  /** Cached reads with default telemetry against tracing off, interleaved, this many runs of `tracingSeconds` each. */
  tracingRepeats: number;
  tracingSeconds: number;
  /** Gets per repetition, and repetitions, of the hit path alone and with the replica's metrics. */
  hitRounds: number;
  hitRepeats: number;
  /** Messages through the receive path, in process, for its cost per message. */
  receiveRounds: number;
  /** The read path with Redis and MongoDB behind Toxiproxy (latency toxic on every response). */
  inZone: { toxicMs: number; offeredRate: number; seconds: number; repeats: number };
  /** A hot book read by every replica and rewritten each second, with and without miss coalescing. */
  coalescing: CoalescingPlan;
  /** This service (signed and unsigned) and the peers, all at once and one after another, clocks from the handover. */
  side: SidePlan;
  /** One replica profiled (--cpu-prof, --trace-gc) while it receives at this rate. */
  receiveProfile: { rate: number; seconds: number };
  /** The same replicas (unsigned) with the writer coalescing and not, interleaved, at these rates. */
  /** warmUpMessages: unrecorded, to each replica before the rounds (absent in results measured before). */
  coalescingLag: { rates: number[]; repeats: number; receivers: number; warmUpMessages?: number };
}

export const FULL_PLAN: BenchPlan = {
  cloneRounds: 2_000_000,
  memoryEntries: 100_000,
  readSeconds: 5,
  readRepeats: 3,
  readCostRounds: { local: 1_000_000, redis: 20_000, mongo: 3_000 },
  connections: 10,
  stepSeconds: 3,
  replicaCounts: [2, 4, 8, 16],
  rates: [100, 1000, 5000],
  lagRepeats: 3,
  throughputReplicas: 4,
  throughputRates: [5000, 10_000, 20_000, 40_000, 80_000],
  signingRounds: 200_000,
  signingRepeats: 3,
  signingRate: 1000,
  topologyRepeats: 3,
  tracingRepeats: 3,
  tracingSeconds: 5,
  hitRounds: 2_000_000,
  hitRepeats: 5,
  receiveRounds: 200_000,
  inZone: { toxicMs: 1, offeredRate: 200, seconds: 5, repeats: 3 },
  coalescing: { replicas: 4, readRate: 400, seconds: 10, repeats: 3 },
  side: {
    rates: [200, 1000, 5000],
    repeats: 5,
    receivers: 3,
    seconds: 3,
    warmUpMessages: 20_000,
    meterLeadMs: METER_LEAD_MS,
  },
  receiveProfile: { rate: 1000, seconds: 10 },
  coalescingLag: { rates: [1000, 5000], repeats: 5, receivers: 3, warmUpMessages: 20_000 },
};

export interface ThroughputStep extends RunResult {
  coalesce: boolean;
  sustained: boolean;
}

/**
 * Everything arrived, nothing was missed, the publisher kept (within 5 %) the rate asked, and the
 * replicas kept up: a p99 lag over a second is a backlog growing, not a rate they can hold.
 */
export const isSustained = (step: RunResult) =>
  step.lost === 0 && step.missed === 0 && step.achievedRate >= 0.95 * step.rate && step.p99Ms < 1000;

export interface BenchResults {
  date: string;
  /** The Node version that measured (the replicas run the same binary). */
  node?: string;
  plan: BenchPlan;
  mongoKind: string;
  clone: CloneCost;
  memory: MemoryResult;
  readPath: ReadPathRow[];
  readCost: ReadCostRow[];
  /**
   * The raw PUBLISH floor (to as many bare subscriber processes as there are replicas), the service
   * and the peers: `lagRepeats` runs of each step, in the order measured (floor, service, peers).
   */
  floor: (LatencyStats & { rate: number; receivers: number })[];
  lag: RunResult[];
  peers: PeerRun[];
  throughput: ThroughputStep[];
  signing: { cost: SigningCost; lag: (RunResult & { signed: boolean })[] };
  /** Lag at `signingRate` to `throughputReplicas` replicas by what the replicas do, and the floor, interleaved. */
  breakdown?: { floor: LatencyStats[]; runs: (RunResult & { variant: LagVariant })[] };
  /** Lag at `signingRate` to `throughputReplicas` replicas, standalone and Cluster runs interleaved. */
  topologies: (RunResult & { topology: 'standalone' | 'cluster' })[];
  tracing: TracingRun[];
  hitPath: HitPathCost;
  receive?: ReceiveCost;
  inZone?: InZoneResult;
  coalescing?: CoalescingRun[];
  side?: SideRun[];
  receiveProfile?: ReceiveProfile;
  /** Lag from the handover with the writer coalescing and not, in the order measured. */
  coalescingLag?: (RunResult & { coalesce: boolean; control?: boolean })[];
}

/** Replicas as they run by default (signed, tracing SDK on), unsigned, and unsigned with the SDK off. */
export const LAG_VARIANTS = ['signed', 'unsigned', 'bare'] as const;
export type LagVariant = (typeof LAG_VARIANTS)[number];

const log = (line: string) => process.stderr.write(`bench: ${line}\n`);

/** SPUBLISH on a 6-node Cluster against PUBLISH on the standalone server: same replicas count, rate and payloads. */
async function topologyLag(servers: BenchServers, plan: BenchPlan): Promise<BenchResults['topologies']> {
  log('starting a 6-node Redis Cluster');
  const cluster = await startRedisCluster();
  const results: BenchResults['topologies'] = [];
  const benches = {
    standalone: await startLagBench(servers, { coalesce: true, channel: `${servers.channel}-standalone` }),
    cluster: await startLagBench(servers, {
      coalesce: true,
      channel: `${servers.channel}-cluster`,
      redis: {
        topology: cluster.topology(),
        env: { REDIS_CLUSTER_NODES: cluster.env({ username: '', password: '' }).REDIS_CLUSTER_NODES! },
      },
    }),
  };
  try {
    await benches.standalone.scale(plan.throughputReplicas);
    await benches.cluster.scale(plan.throughputReplicas);
    for (let i = 0; i < plan.topologyRepeats; i += 1) {
      for (const topology of ['standalone', 'cluster'] as const) {
        log(`lag on ${topology} Redis at ${plan.signingRate}/s, round ${i + 1}`);
        results.push({ ...(await benches[topology].run(plan.signingRate, plan.stepSeconds)), topology });
      }
    }
  } finally {
    await benches.standalone.stop();
    await benches.cluster.stop();
    await cluster.destroy();
  }
  return results;
}

/**
 * What coalescing costs a write's invalidation: the same replicas receiving from a writer that
 * coalesces and one that does not, interleaved, and the one that does not once more (an A/A
 * control: how far two runs of one setup differ).
 */
async function coalescingLagBench(servers: BenchServers, plan: BenchPlan): Promise<BenchResults['coalescingLag']> {
  const { rates, repeats, receivers, warmUpMessages } = plan.coalescingLag;
  const bench = await startLagBench(servers, { coalesce: true, signed: false, channel: `${servers.channel}-coalesce` });
  const WRITERS = ['on', 'off', 'control'] as const;
  const runs: NonNullable<BenchResults['coalescingLag']> = [];
  try {
    await bench.scale(receivers);
    if (warmUpMessages) {
      log(
        `lag with the writer coalescing and not: warming up the replicas, ${warmUpMessages} messages each, unrecorded`,
      );
      await warmUp(bench, warmUpMessages);
    }
    for (const rate of rates) {
      // Both writers run once unrecorded at each rate: the first run of fresh code is the JIT's.
      log(`lag with the writer coalescing and not at ${rate}/s, warm-up`);
      for (const coalesce of [true, false]) await bench.run(rate, 1, undefined, coalesce);
      for (let i = 0; i < repeats; i += 1) {
        log(`lag with the writer coalescing and not at ${rate}/s, round ${i + 1}`);
        // The order rotates, so none always runs on a machine another just left.
        for (let k = 0; k < WRITERS.length; k += 1) {
          const writer = WRITERS[(i + k) % WRITERS.length]!;
          const run = await bench.run(rate, plan.stepSeconds, undefined, writer === 'on');
          runs.push({ ...run, coalesce: writer === 'on', ...(writer === 'control' ? { control: true } : {}) });
        }
      }
    }
  } finally {
    await bench.stop();
  }
  return runs;
}

/** Every measurement of `make bench`, against real servers and replica processes. */
export async function runBench(plan: BenchPlan): Promise<BenchResults> {
  log('node-cache clone cost');
  const clone = cloneCost(plan.cloneRounds);
  log('hit path alone and with the metrics observer');
  const hitPath = hitPathCost(plan.hitRounds, plan.hitRepeats);
  log('receive path per message');
  const receive = receiveCost(plan.receiveRounds);
  log(`memory at ${plan.memoryEntries} entries`);
  const memory = memoryBench(plan.memoryEntries);
  const servers = await startBenchServers();
  try {
    log('read path (autocannon)');
    const readPath = await readPathBench(servers, {
      durationSeconds: plan.readSeconds,
      connections: plan.connections,
      repeats: plan.readRepeats,
    });
    log('cached reads with default telemetry and with tracing off');
    const tracing = await tracingCostBench(servers, {
      repeats: plan.tracingRepeats,
      seconds: plan.tracingSeconds,
      connections: plan.connections,
    });
    log(`read path with Redis and MongoDB behind Toxiproxy (${plan.inZone.toxicMs} ms latency toxic)`);
    const inZone = await inZoneBench(servers, { ...plan.inZone, connections: plan.connections });
    log(
      `miss coalescing: a hot book read by ${plan.coalescing.replicas} replicas at ${plan.coalescing.readRate}/s each, rewritten every second`,
    );
    const coalescing = await coalescingBench(servers, plan.coalescing);
    log('read cost without HTTP');
    const readCost = await readCostBench(servers, plan.readCostRounds);

    const floor: BenchResults['floor'] = [];
    const lag: RunResult[] = [];
    const peers: PeerRun[] = [];
    const lagBench = await startLagBench(servers, { coalesce: true });
    try {
      for (const count of plan.replicaCounts) {
        await lagBench.scale(count);
        for (const rate of plan.rates) {
          for (let i = 0; i < plan.lagRepeats; i += 1) {
            log(`lag with ${count} receivers at ${rate}/s, round ${i + 1}: floor, service, ${PEER_SYSTEMS.join(', ')}`);
            floor.push({
              rate,
              receivers: count,
              ...(await rawPublishFloor(servers.redisUrl, rate, plan.stepSeconds, count)),
            });
            lag.push(await lagBench.run(rate, plan.stepSeconds));
            for (const system of PEER_SYSTEMS)
              peers.push(await peerLag(system, servers.redisUrl, count, rate, plan.stepSeconds));
          }
        }
      }
    } finally {
      await lagBench.stop();
    }

    const side = await sideBySide(servers, plan.side, log);
    log(`one replica profiled while it receives ${plan.receiveProfile.rate}/s`);
    const profiled = await receiveProfile(servers, plan.receiveProfile);
    const coalescingLag = await coalescingLagBench(servers, plan);

    const throughput: ThroughputStep[] = [];
    for (const coalesce of [false, true]) {
      const bench = await startLagBench(servers, { coalesce });
      try {
        await bench.scale(plan.throughputReplicas);
        for (const rate of plan.throughputRates) {
          log(`throughput ${coalesce ? 'coalesced' : 'one message a write'} at ${rate}/s`);
          const step = await bench.run(rate, plan.stepSeconds);
          const sustained = isSustained(step);
          throughput.push({ ...step, coalesce, sustained });
          if (!sustained) break;
        }
      } finally {
        await bench.stop();
      }
    }
    log('signing: sign and verify per message');
    const cost = signingCost(plan.signingRounds);
    const signingLag: BenchResults['signing']['lag'] = [];
    const breakdown: BenchResults['breakdown'] = { floor: [], runs: [] };
    // Replicas as they run by default, unsigned, and unsigned with tracing off: what each costs
    // in lag, against the raw floor to as many bare subscribers, all interleaved.
    const benches = {
      signed: await startLagBench(servers, { coalesce: true, signed: true }),
      unsigned: await startLagBench(servers, { coalesce: true, signed: false, channel: `${servers.channel}-unsigned` }),
      bare: await startLagBench(servers, {
        coalesce: true,
        signed: false,
        channel: `${servers.channel}-bare`,
        env: { OTEL_SDK_DISABLED: 'true' },
      }),
    };
    try {
      for (const bench of Object.values(benches)) await bench.scale(plan.throughputReplicas);
      for (let i = 0; i < plan.signingRepeats; i += 1) {
        log(`lag signed, unsigned, unsigned and untraced, and the floor at ${plan.signingRate}/s, round ${i + 1}`);
        for (const variant of LAG_VARIANTS) {
          const run = await benches[variant].run(plan.signingRate, plan.stepSeconds);
          breakdown.runs.push({ ...run, variant });
          if (variant !== 'bare') signingLag.push({ ...run, signed: variant === 'signed' });
        }
        breakdown.floor.push(
          await rawPublishFloor(servers.redisUrl, plan.signingRate, plan.stepSeconds, plan.throughputReplicas),
        );
      }
    } finally {
      for (const bench of Object.values(benches)) await bench.stop();
    }
    const topologies = await topologyLag(servers, plan);
    return {
      date: new Date().toISOString(),
      node: process.version,
      signing: { cost, lag: signingLag },
      breakdown,
      topologies,
      tracing,
      hitPath,
      receive,
      inZone,
      coalescing,
      side,
      receiveProfile: profiled,
      coalescingLag,
      plan,
      mongoKind: servers.mongoKind,
      clone,
      memory,
      readPath,
      readCost,
      floor,
      lag,
      peers,
      throughput,
    };
  } finally {
    await servers.stop();
  }
}
