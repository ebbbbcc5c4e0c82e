import { nearestRank } from '@local-cache-sync/core/prometheus';

export interface LatencyStats {
  count: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
}

export function stats(samplesMs: number[]): LatencyStats {
  const sorted = Float64Array.from(samplesMs).sort();
  return {
    count: sorted.length,
    p50Ms: nearestRank(sorted, 0.5),
    p99Ms: nearestRank(sorted, 0.99),
    maxMs: nearestRank(sorted, 1),
  };
}

export const now = () => performance.timeOrigin + performance.now();

/**
 * Calls `tick(n)` with how many sends are due, every millisecond, for `seconds`, from `startAt`
 * (epoch ms; at once without); resolves with the count sent and the turns (ticks) that sent.
 */
export async function paced(
  rate: number,
  seconds: number,
  tick: (due: number) => void,
  startAt?: number,
): Promise<{ sent: number; elapsed: number; turns: number }> {
  if (startAt !== undefined && startAt > now()) await new Promise((resolve) => setTimeout(resolve, startAt - now()));
  const total = Math.round(rate * seconds);
  const started = performance.now();
  let sent = 0;
  let turns = 0;
  await new Promise<void>((resolve) => {
    const timer = setInterval(() => {
      const due = Math.min(total, Math.floor(((performance.now() - started) / 1000) * rate)) - sent;
      if (due > 0) {
        tick(due);
        sent += due;
        turns += 1;
      }
      if (sent >= total) {
        clearInterval(timer);
        resolve();
      }
    }, 1);
  });
  return { sent, elapsed: (performance.now() - started) / 1000, turns };
}
