import type { RecoveryPlan, RecoveryRun } from './recovery-bench';

/** Entries the fault reached: every replica's on a Redis restart, the cut replica's on a cut. */
export const entriesHit = (run: RecoveryRun, plan: RecoveryPlan) =>
  plan.entries * (run.fault === 'cut' ? 1 : plan.replicas);

/** Source reads beyond steady state in the window after the heal, as a share of the entries the fault reached. */
export const extraShare = (run: RecoveryRun, plan: RecoveryPlan) =>
  Math.max(0, run.after.sourceReads - run.steady.sourceReads) / entriesHit(run, plan);

export const p99Ratio = (run: RecoveryRun) => run.after.p99Ms / run.steady.p99Ms;

/** The stream mode's targets: at most 1 % of the entries reloaded beyond steady state, read p99 at most 2x. */
export function recoveryTargets(runs: RecoveryRun[], plan: RecoveryPlan) {
  return runs
    .filter((run) => run.system === 'stream')
    .flatMap((run) => [
      {
        target: `stream, ${run.fault}: at most 1 % of the entries reloaded beyond steady state`,
        measured: `${(extraShare(run, plan) * 100).toFixed(2)} %`,
        met: extraShare(run, plan) <= 0.01,
      },
      {
        target: `stream, ${run.fault}: read p99 in the ${plan.windowSeconds} s after at most 2x steady state`,
        measured: `${p99Ratio(run).toFixed(2)}x`,
        met: p99Ratio(run) <= 2,
      },
    ]);
}

const int = (n: number) => Math.round(n).toLocaleString('en-US');
const ms = (n: number) => (Number.isFinite(n) ? n.toFixed(2) : '-');

/** The recovery table and its targets, as `make recovery` writes them. */
export function recoveryMarkdown(runs: RecoveryRun[], plan: RecoveryPlan, machine: string): string {
  return [
    `Recovery: ${plan.replicas} replicas each holding ${int(plan.entries)} entries (every key of the source) and reading ${plan.readRate} random keys/s, ${plan.writeRate} writes/s moving random keys on; then Redis restarted (on disk, so it keeps its data and the stream log), or the first replica cut off Redis for ${plan.cutSeconds} s. The source is that same Redis for every system (node-redis client-side caching caches Redis itself), reached through each replica's own proxy; a read waits at most 1 s. Compared: the ${plan.windowSeconds} s after the fault healed against the ${plan.windowSeconds} s before it. ${machine}.`,
    '',
    "How to read it. Source reads count every read that went to Redis: in `pubsub-flush` and `stream` they include the reads that bypass the cache while it is not trusted (from the fault until the flush or the replay ran), which drop no entry; entries dropped is the fewest entries held at any moment after the fault, against before it (writes evict some in every system). Steady state's p99 is a local hit, so a window in which more than 1 % of the reads go to the source has a p99 of a source read. Reads failed during the fault: a read waits at most 1 s, and here the source is behind the same cut, so a replica that bypasses its cache while cut off (the safer modes) fails where `pubsub` answers from its cache; with a database of its own it would read the database.",
    '',
    '| system | fault | source reads after / before | beyond steady state, % of the entries the fault reached | read p99 after / before (ms) | entries dropped | reads failed during the fault | most source reads of one key after |',
    '|---|---|---|---|---|---|---|---|',
    ...runs.map(
      (run) =>
        `| ${run.system} | ${run.fault} | ${int(run.after.sourceReads)} / ${int(run.steady.sourceReads)} | ${(extraShare(run, plan) * 100).toFixed(2)} % | ${ms(run.after.p99Ms)} / ${ms(run.steady.p99Ms)} (${p99Ratio(run).toFixed(2)}x) | ${int(run.heldBefore - run.heldLeast)} of ${int(run.heldBefore)} | ${int(run.errorsDuringFault)} | ${run.maxReadsPerKey ?? '-'} |`,
    ),
    '',
    '| target | measured | |',
    '|---|---|---|',
    ...recoveryTargets(runs, plan).map((t) => `| ${t.target} | ${t.measured} | ${t.met ? 'met' : '**missed**'} |`),
  ].join('\n');
}
