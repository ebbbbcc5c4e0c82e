import { METER_LEAD_MS, type RunResult } from './lag/lag-bench';
import type { LatencyStats } from './lag/latency';
import type { PeerRun } from './lag/peer-lag';
import type { FreshSidePlan, SidePlan, SideRun } from './lag/side-by-side';
import type { SigningCost } from './lag/signing-cost';
import type { CloneCost } from './read-path/clone-cost';
import type { GuardedHitCost } from './read-path/guarded-hit';
import type { InZoneResult } from './read-path/in-zone';
import type { MemoryResult } from './read-path/memory';
import type { CoalescingPlan, CoalescingRun } from './read-path/miss-coalescing';
import type { HitPathCost, ReadCostRow, ReadPathRow } from './read-path/read-path';
import type { TracingRun } from './read-path/tracing-cost';
import type { ReceiveCost } from './receive/receive-cost';
import type { ReceiveProfile } from './receive/receive-profile';
import type { TagEviction } from './receive/tag-eviction';
import type { TailProfile } from './receive/tail-profile';

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
  /** The same at every receivers count, every system's receivers fresh for every run (absent before). */
  sideFresh?: FreshSidePlan;
  /** One replica profiled (--cpu-prof, --trace-gc) while it receives at this rate. */
  receiveProfile: { rate: number; seconds: number };
  /** The replicas' scheduler counters at each receivers count, at one rate (absent before). */
  tailProfile?: { counts: number[]; rate: number; seconds: number; warmUpMessages: number };
  /** The same replicas (unsigned) with the writer coalescing and not, interleaved, at these rates. */
  /** warmUpMessages: unrecorded, to each replica before the rounds (absent in results measured before). */
  coalescingLag: { rates: number[]; repeats: number; receivers: number; warmUpMessages?: number };
  /** One tag invalidation evicting `entries` entries on each of `receivers` replica processes, `repeats` times. */
  tagEviction?: { entries: number; receivers: number; repeats: number };
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
    peersWarmed: true,
    meterLeadMs: METER_LEAD_MS,
  },
  sideFresh: { counts: [2, 4, 8, 16], rates: [1000], repeats: 3, seconds: 3 },
  receiveProfile: { rate: 1000, seconds: 10 },
  tailProfile: { counts: [2, 4, 8, 16], rate: 1000, seconds: 5, warmUpMessages: 20_000 },
  coalescingLag: { rates: [1000, 5000], repeats: 5, receivers: 3, warmUpMessages: 20_000 },
  tagEviction: { entries: 10_000, receivers: 3, repeats: 5 },
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
  /** getOrLoad hits, plain and with fail-safe, timeouts and eager refresh configured (absent before 0.2's fail-safe). */
  guardedHit?: GuardedHitCost;
  /** A tag invalidation evicting every entry of the tag on each receiver (absent before 0.2's tags). */
  tagEviction?: TagEviction;
  receive?: ReceiveCost;
  inZone?: InZoneResult;
  coalescing?: CoalescingRun[];
  side?: SideRun[];
  sideFresh?: SideRun[];
  receiveProfile?: ReceiveProfile;
  tailProfile?: TailProfile;
  /** Lag from the handover with the writer coalescing and not, in the order measured. */
  coalescingLag?: (RunResult & { coalesce: boolean; control?: boolean })[];
}

/** Replicas as they run by default (signed, tracing SDK on), unsigned, and unsigned with the SDK off. */
export const LAG_VARIANTS = ['signed', 'unsigned', 'bare'] as const;

export type LagVariant = (typeof LAG_VARIANTS)[number];
