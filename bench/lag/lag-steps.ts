import type { RunResult } from './lag-bench';
import type { LatencyStats } from './latency';
import { PEER_SYSTEMS, type PeerRun, type PeerSystem } from './peer-lag';

export const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor((sorted.length - 1) / 2)] ?? Number.NaN;
};

/** The median of values measured in repetitions, and their range. */
export interface Spread {
  median: number;
  min: number;
  max: number;
}

export const spread = (values: number[]): Spread => ({
  median: median(values),
  min: Math.min(...values),
  max: Math.max(...values),
});

/** Ratios of runs measured back to back (repetition i of `a` against repetition i of `b`). */
export const pairedRatios = (a: number[], b: number[]): Spread =>
  spread(a.slice(0, b.length).map((value, i) => value / b[i]!));

/** Every run of one lag step (receivers x rate), in repetition order. */
export interface LagStep {
  receivers: number;
  rate: number;
  floor: LatencyStats[];
  service: RunResult[];
  peers: Record<PeerSystem, PeerRun[]>;
}

export function lagSteps(r: {
  floor: (LatencyStats & { receivers: number; rate: number })[];
  lag: RunResult[];
  peers?: PeerRun[];
}): LagStep[] {
  const steps: LagStep[] = [];
  for (const run of r.lag) {
    if (steps.some((s) => s.receivers === run.replicas && s.rate === run.rate)) continue;
    const at = <T extends { rate: number }>(rows: T[], receivers: (row: T) => number) =>
      rows.filter((row) => receivers(row) === run.replicas && row.rate === run.rate);
    steps.push({
      receivers: run.replicas,
      rate: run.rate,
      floor: at(r.floor, (f) => f.receivers),
      service: at(r.lag, (l) => l.replicas),
      peers: Object.fromEntries(
        PEER_SYSTEMS.map((system) => [
          system,
          at(r.peers ?? [], (p) => p.receivers).filter((p) => p.system === system),
        ]),
      ) as Record<PeerSystem, PeerRun[]>,
    });
  }
  return steps;
}
