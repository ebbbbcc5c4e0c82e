import type { BenchServers } from '../servers';
import { type LagBench, startLagBench, warmUp } from './lag-bench';
import { type LatencyStats, now } from './latency';
import { PEER_SYSTEMS, peerLag, warmUpLeadMs } from './peer-lag';

/** This service unsigned and signed (default telemetry, coalescing on), and the peers. */
export const SIDE_SYSTEMS = ['unsigned', 'signed', ...PEER_SYSTEMS] as const;
export type SideSystem = (typeof SIDE_SYSTEMS)[number];
export type OurSystem = 'unsigned' | 'signed';
export const OUR_SYSTEMS: OurSystem[] = ['unsigned', 'signed'];

export interface SidePlan {
  rates: number[];
  /** Runs of each step, both ways (all systems at once, then one after another). */
  repeats: number;
  receivers: number;
  seconds: number;
  /**
   * Messages each of this service's receivers gets, unrecorded, before the rounds (see warmUp);
   * with `peersWarmed`, each peer's receivers get as many before every run (absent in results
   * measured before).
   */
  warmUpMessages?: number;
  /** The peers' receivers are warmed alike (absent in results measured before: they started fresh). */
  peersWarmed?: boolean;
  /**
   * In a run at once, the CPU and heap meters start this long before the common start (absent in
   * results measured before: they ran through the lead, some seconds of idle time).
   */
  meterLeadMs?: number;
}

/**
 * Side by side at every receivers count, every system's receivers started afresh for each run
 * (this service's too, and none warmed): a replica just started by a deploy or a crash.
 */
export interface FreshSidePlan {
  counts: number[];
  rates: number[];
  repeats: number;
  seconds: number;
}

export interface SideRun {
  system: SideSystem;
  rate: number;
  /** Receivers of every system in this run (absent in results measured before: the plan's count). */
  receivers?: number;
  /** Every system's receivers started afresh for this run (absent before: only the peers' were). */
  fresh?: boolean;
  /** Writing at the same time as other systems on one Redis, or this one alone. */
  together: boolean;
  /**
   * In a run together: which of this service's variants ran with the peers (one at a time, so
   * three systems share the machine, not four). Absent in results measured before.
   */
  beside?: OurSystem;
  /** Handed over to the sync layer -> evicted on a receiver: every system's clock starts there. */
  total: LatencyStats;
  /** This service only: handed over -> on the socket, and its message's publishedAt -> evicted. */
  send?: LatencyStats;
  receive?: LatencyStats;
  lost: number;
  cpuUsPerMessage: number;
  heapBytesPerMessage: number;
}

/** New receiver processes, as the peers get for every run. */
async function restart(bench: LagBench, receivers: number): Promise<void> {
  await bench.scale(0);
  await bench.scale(receivers);
}

/** Side by side at each receivers count of `plan`, every system's receivers fresh for every run. */
export async function freshSideBySide(
  servers: BenchServers,
  plan: FreshSidePlan,
  log: (line: string) => void,
): Promise<SideRun[]> {
  const runs: SideRun[] = [];
  for (const receivers of plan.counts) runs.push(...(await sideBySide(servers, { ...plan, receivers }, log, true)));
  return runs;
}

/** Peer writers are separate processes that need a moment (seeding, receivers subscribing) before they can start. */
const LEAD_MS = 8000;

/**
 * Every system with `receivers` receiving processes, at each rate: first this service unsigned
 * with both peers at once (their writers start at the same instant, on the same Redis), then
 * signed with both peers, then each system alone; `repeats` rounds of all three, interleaved.
 */
export async function sideBySide(
  servers: BenchServers,
  plan: SidePlan,
  log: (line: string) => void,
  fresh = false,
): Promise<SideRun[]> {
  const ours: Record<OurSystem, LagBench> = {
    unsigned: await startLagBench(servers, { coalesce: true, signed: false, channel: `${servers.channel}-side-u` }),
    signed: await startLagBench(servers, { coalesce: true, signed: true, channel: `${servers.channel}-side-s` }),
  };
  const runs: SideRun[] = [];
  try {
    if (!fresh) for (const bench of Object.values(ours)) await bench.scale(plan.receivers);
    const warm = fresh ? 0 : (plan.warmUpMessages ?? 0);
    if (warm) {
      log(`side by side: warming up this service's receivers, ${warm} messages each, unrecorded`);
      for (const bench of Object.values(ours)) await warmUp(bench, warm);
    }
    const peerWarm = plan.peersWarmed ? warm : 0;
    const runOne = async (
      system: SideSystem,
      rate: number,
      beside: OurSystem | undefined,
      startAt?: number,
    ): Promise<SideRun> => {
      const together = beside !== undefined;
      const tags = { receivers: plan.receivers, ...(fresh && { fresh }) };
      if (system === 'unsigned' || system === 'signed') {
        const r = await ours[system].run(rate, plan.seconds, startAt);
        const { count, p50Ms, p99Ms, maxMs } = r;
        return {
          system,
          rate,
          ...tags,
          together,
          beside,
          total: r.fromHandover!,
          send: r.sendSide,
          receive: { count, p50Ms, p99Ms, maxMs },
          lost: r.lost,
          cpuUsPerMessage: r.cpuUsPerMessage!,
          heapBytesPerMessage: r.heapBytesPerMessage!,
        };
      }
      const p = await peerLag(system, servers.redisUrl, plan.receivers, rate, plan.seconds, startAt, peerWarm);
      const { count, p50Ms, p99Ms, maxMs } = p;
      return {
        system,
        rate,
        ...tags,
        together,
        beside,
        total: { count, p50Ms, p99Ms, maxMs },
        lost: p.lost,
        cpuUsPerMessage: p.cpuUsPerMessage,
        heapBytesPerMessage: p.heapBytesPerMessage,
      };
    };
    for (const rate of plan.rates) {
      for (let i = 0; i < plan.repeats; i += 1) {
        // Which of ours runs with the peers first alternates from round to round.
        for (const beside of i % 2 === 0 ? OUR_SYSTEMS : [...OUR_SYSTEMS].reverse()) {
          log(
            `side by side at ${rate}/s, ${plan.receivers} ${fresh ? 'fresh ' : ''}receivers each, round ${i + 1}: ${beside} with the peers`,
          );
          if (fresh) await restart(ours[beside], plan.receivers);
          const startAt = now() + LEAD_MS + warmUpLeadMs(peerWarm);
          const systems = [beside, ...PEER_SYSTEMS];
          runs.push(...(await Promise.all(systems.map((system) => runOne(system, rate, beside, startAt)))));
        }
        log(`side by side at ${rate}/s, round ${i + 1}: one after another`);
        for (const system of SIDE_SYSTEMS) {
          if (fresh && (system === 'unsigned' || system === 'signed')) await restart(ours[system], plan.receivers);
          runs.push(await runOne(system, rate, undefined));
        }
      }
    }
  } finally {
    for (const bench of Object.values(ours)) await bench.stop();
  }
  return runs;
}
