import { type LagBench, type LatencyStats, now, startLagBench } from './invalidation';
import { PEER_SYSTEMS, peerLag } from './peers';
import type { BenchServers } from './servers';

/** This service unsigned and signed (default telemetry, coalescing on), and the peers. */
export const SIDE_SYSTEMS = ['unsigned', 'signed', ...PEER_SYSTEMS] as const;
export type SideSystem = (typeof SIDE_SYSTEMS)[number];

export interface SidePlan {
  rates: number[];
  /** Runs of each step, both ways (all systems at once, then one after another). */
  repeats: number;
  receivers: number;
  seconds: number;
}

export interface SideRun {
  system: SideSystem;
  rate: number;
  /** All systems writing at the same time on one Redis, or this one alone. */
  together: boolean;
  /** Handed over to the sync layer -> evicted on a receiver: every system's clock starts there. */
  total: LatencyStats;
  /** This service only: handed over -> on the socket, and its message's publishedAt -> evicted. */
  send?: LatencyStats;
  receive?: LatencyStats;
  lost: number;
  cpuUsPerMessage: number;
  heapBytesPerMessage: number;
}

/** Peer writers are separate processes that need a moment (seeding, receivers subscribing) before they can start. */
const LEAD_MS = 8000;

/**
 * Every system with `receivers` receiving processes, at each rate: first all of them at once
 * (their writers start at the same instant, on the same Redis), then each alone; `repeats`
 * rounds of both, interleaved.
 */
export async function sideBySide(
  servers: BenchServers,
  plan: SidePlan,
  log: (line: string) => void,
): Promise<SideRun[]> {
  const ours: Record<'unsigned' | 'signed', LagBench> = {
    unsigned: await startLagBench(servers, { coalesce: true, signed: false, channel: `${servers.channel}-side-u` }),
    signed: await startLagBench(servers, { coalesce: true, signed: true, channel: `${servers.channel}-side-s` }),
  };
  const runs: SideRun[] = [];
  try {
    for (const bench of Object.values(ours)) await bench.scale(plan.receivers);
    const runOne = async (system: SideSystem, rate: number, together: boolean, startAt?: number): Promise<SideRun> => {
      if (system === 'unsigned' || system === 'signed') {
        const r = await ours[system].run(rate, plan.seconds, startAt);
        const { count, p50Ms, p99Ms, maxMs } = r;
        return {
          system,
          rate,
          together,
          total: r.fromHandover!,
          send: r.sendSide,
          receive: { count, p50Ms, p99Ms, maxMs },
          lost: r.lost,
          cpuUsPerMessage: r.cpuUsPerMessage!,
          heapBytesPerMessage: r.heapBytesPerMessage!,
        };
      }
      const p = await peerLag(system, servers.redisUrl, plan.receivers, rate, plan.seconds, startAt);
      const { count, p50Ms, p99Ms, maxMs } = p;
      return {
        system,
        rate,
        together,
        total: { count, p50Ms, p99Ms, maxMs },
        lost: p.lost,
        cpuUsPerMessage: p.cpuUsPerMessage,
        heapBytesPerMessage: p.heapBytesPerMessage,
      };
    };
    for (const rate of plan.rates) {
      for (let i = 0; i < plan.repeats; i += 1) {
        log(`side by side at ${rate}/s, ${plan.receivers} receivers each, round ${i + 1}: all at once`);
        const startAt = now() + LEAD_MS;
        runs.push(...(await Promise.all(SIDE_SYSTEMS.map((system) => runOne(system, rate, true, startAt)))));
        log(`side by side at ${rate}/s, round ${i + 1}: one after another`);
        for (const system of SIDE_SYSTEMS) runs.push(await runOne(system, rate, false));
      }
    }
  } finally {
    for (const bench of Object.values(ours)) await bench.stop();
  }
  return runs;
}
