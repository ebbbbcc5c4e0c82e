import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { startLagBench, warmUp } from '../lag/lag-bench';
import type { LatencyStats } from '../lag/latency';
import type { BenchServers } from '../servers';

/** A main thread's scheduler counters (/proc/<pid>/schedstat): ns on a CPU, ns runnable but waiting for one, timeslices. */
interface SchedStat {
  runNs: number;
  waitNs: number;
  slices: number;
}

function schedStat(pid: number): SchedStat {
  const [run, wait, slices] = readFileSync(`/proc/${pid}/schedstat`, 'utf8').trim().split(/\s+/).map(Number);
  return { runNs: run ?? 0, waitNs: wait ?? 0, slices: slices ?? 0 };
}

export interface TailStep {
  receivers: number;
  lag: LatencyStats;
  /** Per replica and message applied: µs its main thread ran, and µs it was ready to run and waited for a CPU. */
  runUsPerMessage: number;
  waitUsPerMessage: number;
  /** Times a replica's main thread was put on a CPU, per message applied. */
  slicesPerMessage: number;
  /** The cores the replicas' main threads kept busy together, over the run. */
  coresUsed: number;
}

export interface TailProfile {
  rate: number;
  seconds: number;
  /** The machine's cores. */
  cores: number;
  steps: TailStep[];
}

/**
 * Where the lag's tail goes as receivers are added: the same run (signed, warmed) at each count,
 * with each replica's main thread's scheduler counters read before and after. A message is
 * applied on a replica only once its thread is on a CPU: time waiting for one is lag no code
 * change in the receive path can remove.
 */
export async function tailProfile(
  servers: BenchServers,
  plan: { counts: number[]; rate: number; seconds: number; warmUpMessages: number },
  log: (line: string) => void,
): Promise<TailProfile> {
  const steps: TailStep[] = [];
  for (const receivers of plan.counts) {
    const bench = await startLagBench(servers, { coalesce: true, channel: `${servers.channel}-tail-${receivers}` });
    try {
      await bench.scale(receivers);
      log(`tail profile: ${receivers} receivers, warming up, ${plan.warmUpMessages} messages each, unrecorded`);
      await warmUp(bench, plan.warmUpMessages);
      log(`tail profile: ${receivers} receivers at ${plan.rate}/s`);
      const pids = bench.pids();
      const before = pids.map(schedStat);
      const run = await bench.run(plan.rate, plan.seconds);
      const after = pids.map(schedStat);
      const total = (pick: (s: SchedStat) => number) =>
        after.reduce((sum, s, i) => sum + pick(s) - pick(before[i]!), 0);
      const applied = Math.max(1, run.count);
      steps.push({
        receivers,
        lag: { count: run.count, p50Ms: run.p50Ms, p99Ms: run.p99Ms, maxMs: run.maxMs },
        runUsPerMessage: total((s) => s.runNs) / 1000 / applied,
        waitUsPerMessage: total((s) => s.waitNs) / 1000 / applied,
        slicesPerMessage: total((s) => s.slices) / applied,
        coresUsed: total((s) => s.runNs) / 1e9 / plan.seconds,
      });
    } finally {
      await bench.stop();
    }
  }
  return { rate: plan.rate, seconds: plan.seconds, cores: availableParallelism(), steps };
}
