import { median, type Spread, spread } from '../lag/lag-steps';
import type { LatencyStats } from '../lag/latency';
import { PEER_NAMES, PEER_SYSTEMS, PEER_WARM_UP_RATE } from '../lag/peer-lag';
import { OUR_SYSTEMS, type OurSystem, SIDE_SYSTEMS, type SideRun, type SideSystem } from '../lag/side-by-side';
import type { BenchResults } from '../plan';
import { int, verdict, x } from './format';

/** Median and range of one statistic over a system's runs at one rate. */
function sideSpread(runs: SideRun[], pick: (run: SideRun) => number | undefined): Spread {
  return spread(runs.map(pick).filter((v): v is number => v !== undefined && Number.isFinite(v)));
}

export const msSpread = (v: Spread) =>
  v.median === undefined || Number.isNaN(v.median)
    ? '-'
    : `${v.median.toFixed(2)} (${v.min.toFixed(2)}-${v.max.toFixed(2)})`;

export interface SideTarget {
  rate: number;
  /** Ours over the better peer's (the lower median), p50 and p99, all systems at once. */
  unsigned: { p50: number; p99: number };
  signed: { p50: number; p99: number };
}

/** Ratios of this service's handover-to-evict lag over the better peer's, at each rate, from the runs side by side. */
export function sideTargets(r: BenchResults): SideTarget[] {
  return sideTargetsOf(r.side ?? []);
}

/** The same per receivers count, from the runs with every receiver fresh. */
export function freshSideTargets(r: BenchResults): (SideTarget & { receivers: number })[] {
  const runs = r.sideFresh ?? [];
  return [...new Set(runs.map((run) => run.receivers!))].flatMap((receivers) =>
    sideTargetsOf(runs.filter((run) => run.receivers === receivers)).map((t) => ({ receivers, ...t })),
  );
}

/** The side-by-side verdict: unsigned at most the better peer, signed at most 1.2x. */
export const sideMet = (t: SideTarget) =>
  t.unsigned.p50 <= 1 && t.unsigned.p99 <= 1 && t.signed.p50 <= 1.2 && t.signed.p99 <= 1.2;

function sideTargetsOf(all: SideRun[]): SideTarget[] {
  const runs = all.filter((run) => run.together);
  return [...new Set(runs.map((run) => run.rate))].map((rate) => {
    // Ours against the peers that ran beside it (results measured before `beside` had all at once).
    const over = (ours: OurSystem) => {
      const at = (system: SideSystem) =>
        runs.filter(
          (run) => run.rate === rate && run.system === system && (run.beside === undefined || run.beside === ours),
        );
      const med = (system: SideSystem, pick: (s: LatencyStats) => number) =>
        median(at(system).map((run) => pick(run.total)));
      const better = (pick: (s: LatencyStats) => number) =>
        Math.min(...PEER_SYSTEMS.map((system) => med(system, pick)));
      return {
        p50: med(ours, (s) => s.p50Ms) / better((s) => s.p50Ms),
        p99: med(ours, (s) => s.p99Ms) / better((s) => s.p99Ms),
      };
    };
    return { rate, unsigned: over('unsigned'), signed: over('signed') };
  });
}

/** This service and the peers at the same rates, every clock from the handover: all at once, then one after another. */
export function sideMarkdown(r: BenchResults): string[] {
  const runs = r.side ?? [];
  if (runs.length === 0) return [];
  const { receivers, seconds, repeats, warmUpMessages, peersWarmed, meterLeadMs } = r.plan.side;
  const meters =
    meterLeadMs === undefined
      ? ''
      : `; in a run at once from ${meterLeadMs} ms before the common start, not over the lead every system's processes first wait through`;
  const warmUp = warmUpMessages
    ? ` Before the rounds each of this service's receivers got ${int(warmUpMessages)} messages, unrecorded: a fresh replica's CPU per message falls by about half over its first 20,000 (V8 compiling on background threads, counted as the process's CPU), so the rounds would drift, and a production replica is long-lived. ${
        peersWarmed
          ? `Every system is warmed alike: each peer's receivers, started for every run, first get ${int(warmUpMessages)} invalidations, unrecorded, at ${int(PEER_WARM_UP_RATE)}/s with the peer's own API, and restart their meters after them.`
          : `The peers' receivers are started afresh for every run (not warmed).`
      }`
    : '';
  const name = (system: SideSystem) =>
    system === 'unsigned'
      ? 'this service, unsigned'
      : system === 'signed'
        ? 'this service, signed'
        : PEER_NAMES[system];
  // Together: ours and the peers beside it, one group per variant of ours (one group in results
  // measured before `beside`); alone: every system once.
  const groups = (together: boolean): [OurSystem | undefined, SideSystem][] =>
    !together || runs.every((run) => run.beside === undefined)
      ? SIDE_SYSTEMS.map((system) => [undefined, system])
      : OUR_SYSTEMS.flatMap((ours) => [ours, ...PEER_SYSTEMS].map((system): [OurSystem, SideSystem] => [ours, system]));
  const table = (together: boolean) => {
    const rows: string[] = [];
    for (const rate of [...new Set(runs.map((run) => run.rate))]) {
      for (const [beside, system] of groups(together)) {
        const group = runs.filter(
          (run) => run.together === together && run.rate === rate && run.system === system && run.beside === beside,
        );
        if (group.length === 0) continue;
        const label = beside !== undefined && system !== beside ? `${name(system)}, beside ${beside}` : name(system);
        rows.push(
          `| ${int(rate)} | ${label} | ${msSpread(sideSpread(group, (g) => g.total.p50Ms))} | ${msSpread(sideSpread(group, (g) => g.total.p99Ms))} | ${msSpread(sideSpread(group, (g) => g.send?.p50Ms))} / ${msSpread(sideSpread(group, (g) => g.send?.p99Ms))} | ${msSpread(sideSpread(group, (g) => g.receive?.p50Ms))} / ${msSpread(sideSpread(group, (g) => g.receive?.p99Ms))} | ${median(group.map((g) => g.cpuUsPerMessage)).toFixed(1)} | ${int(median(group.map((g) => g.heapBytesPerMessage)))} | ${group.reduce((n, g) => n + g.lost, 0)} |`,
        );
      }
    }
    return [
      '| writes/s | system | handed over → evicted p50, ms (median, range) | p99 | send side p50 / p99 | receive side p50 / p99 | receiver CPU µs per message | heap bytes per message | lost |',
      '|---|---|---|---|---|---|---|---|---|',
      ...rows,
    ];
  };
  const targets = sideTargets(r);
  return [
    `## Side by side: this service and the peers, ${receivers} receivers each, clocks from the handover`,
    '',
    `Each system writes at the same rate for ${seconds} s to ${receivers} receiving processes; ${repeats} rounds, each first with three systems at once on one Redis, this service unsigned and both peers, then signed and both peers (their writers start at the same instant, as in production the same box would be shared; which of ours goes first alternates), and then one system at a time. Every clock starts when the writer hands the change to the sync layer: this service's \`publish\` (the bench sets \`committedAt\` then; its replicas time the eviction from it), BentoCache's \`delete\`, node-redis' \`SET\`. For this service the send side is handover → the message handed to the socket, the receive side the envelope's \`publishedAt\` → eviction; the peers cannot be split. CPU is each receiving process's CPU time over the run (for this service, \`process_cpu_seconds_total\`, heartbeats and scrapes included${meters}) per invalidation applied; heap bytes are V8 allocations over the same time (what each collection freed plus the growth) per invalidation.${warmUp}`,
    '',
    '### Three systems at once: this service (unsigned, then signed) beside both peers',
    '',
    ...table(true),
    '',
    '### One system at a time',
    '',
    ...table(false),
    '',
    ...targets.map(
      (t) =>
        `- At ${int(t.rate)}/s, at once with the peers: unsigned p50 ${x(t.unsigned.p50)} and p99 ${x(t.unsigned.p99)} the better peer's (target ≤ 1x: ${verdict(t.unsigned.p50 <= 1 && t.unsigned.p99 <= 1)}); signed p50 ${x(t.signed.p50)} and p99 ${x(t.signed.p99)} (target ≤ 1.2x: ${verdict(t.signed.p50 <= 1.2 && t.signed.p99 <= 1.2)}).`,
    ),
    '',
    ...freshSideMarkdown(r),
  ];
}

/** Side by side at every receivers count, every system's receivers fresh for every run. */
function freshSideMarkdown(r: BenchResults): string[] {
  const runs = r.sideFresh ?? [];
  const plan = r.plan.sideFresh;
  if (runs.length === 0 || !plan) return [];
  const name = (system: SideSystem) =>
    system === 'unsigned' || system === 'signed' ? `this service, ${system}` : PEER_NAMES[system];
  const rows: string[] = [];
  for (const receivers of plan.counts)
    for (const rate of plan.rates)
      for (const together of [true, false])
        for (const system of SIDE_SYSTEMS) {
          const group = runs.filter(
            (run) =>
              run.receivers === receivers && run.rate === rate && run.together === together && run.system === system,
          );
          if (group.length === 0) continue;
          rows.push(
            `| ${receivers} | ${int(rate)} | ${together ? 'at once' : 'alone'} | ${name(system)} | ${msSpread(sideSpread(group, (g) => g.total.p50Ms))} | ${msSpread(sideSpread(group, (g) => g.total.p99Ms))} | ${group.reduce((n, g) => n + g.lost, 0)} |`,
          );
        }
  return [
    '## Side by side at every receivers count, every receiver fresh',
    '',
    `As above, at ${plan.counts.join(', ')} receivers, ${plan.repeats} rounds of ${plan.seconds} s, but every system's receiving processes are started afresh for every run, this service's too, and none is warmed: a replica just started by a deploy or a crash.`,
    '',
    '| receivers | writes/s | run | system | handed over → evicted p50, ms (median, range) | p99 | lost |',
    '|---|---|---|---|---|---|---|',
    ...rows,
    '',
    ...freshSideTargets(r).map(
      (t) =>
        `- ${t.receivers} receivers at ${int(t.rate)}/s, at once with the peers: unsigned p50 ${x(t.unsigned.p50)} and p99 ${x(t.unsigned.p99)} the better peer's; signed p50 ${x(t.signed.p50)} and p99 ${x(t.signed.p99)} (${verdict(sideMet(t))}).`,
    ),
    '',
  ];
}
