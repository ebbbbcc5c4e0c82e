import { median, pairedRatios, type Spread, spread } from '../lag/lag-steps';
import type { BenchResults } from '../plan';
import { int, p50s, p99s, x } from './format';
import { msSpread } from './side-by-side';

type CoalescingWriter = 'on' | 'off' | 'control';

const writerOf = (run: { coalesce: boolean; control?: boolean }): CoalescingWriter =>
  run.coalesce ? 'on' : run.control ? 'control' : 'off';

export interface CoalescingTarget {
  rate: number;
  /** Coalescing over one message a write, paired runs. */
  p50: Spread;
  p99: Spread;
  /** The second writer that does not coalesce over the first (A/A): the noise between identical setups. */
  control?: { p50: Spread; p99: Spread };
  /** Paired runs in which coalescing's p99 was the higher, of how many. */
  worse: [number, number];
  /**
   * Coalescing's p99 no worse: its median ratio at most 1, or within the A/A control's range and
   * not higher in every pair (a difference every pair shows is not noise).
   */
  met: boolean;
}

/** Coalescing's cost at each rate: p50 and p99 from the handover, coalescing over not, paired runs. */
export function coalescingTargets(r: BenchResults): CoalescingTarget[] {
  const runs = r.coalescingLag ?? [];
  return [...new Set(runs.map((run) => run.rate))].map((rate) => {
    const at = (writer: CoalescingWriter) =>
      runs.filter((run) => run.rate === rate && writerOf(run) === writer).map((run) => run.fromHandover!);
    const off = at('off');
    const p99 = pairedRatios(p99s(at('on')), p99s(off));
    const pairs = Math.min(at('on').length, off.length);
    const worse = at('on')
      .slice(0, pairs)
      .filter((run, i) => run.p99Ms > off[i]!.p99Ms).length;
    const control =
      at('control').length > 0
        ? { p50: pairedRatios(p50s(at('control')), p50s(off)), p99: pairedRatios(p99s(at('control')), p99s(off)) }
        : undefined;
    return {
      rate,
      p50: pairedRatios(p50s(at('on')), p50s(off)),
      p99,
      control,
      worse: [worse, pairs],
      met: p99.median <= 1 || (control !== undefined && p99.median <= control.p99.max && worse < pairs),
    };
  });
}

export function coalescingLagMarkdown(r: BenchResults): string[] {
  const runs = r.coalescingLag ?? [];
  if (runs.length === 0) return [];
  const { repeats, receivers, warmUpMessages } = r.plan.coalescingLag;
  const coalescingWarmUp = warmUpMessages
    ? `, which first got ${int(warmUpMessages)} messages each, unrecorded (a fresh replica's CPU per message falls by about half over its first 20,000)`
    : '';
  const NAMES: Record<CoalescingWriter, string> = {
    on: 'coalescing (the default)',
    off: 'one message a write',
    control: 'one message a write, run again (A/A control)',
  };
  const rows = [...new Set(runs.map((run) => run.rate))].flatMap((rate) =>
    (['on', 'off', 'control'] as const).flatMap((writer) => {
      const group = runs.filter((run) => run.rate === rate && writerOf(run) === writer);
      if (group.length === 0) return [];
      const handover = group.map((run) => run.fromHandover!);
      return [
        `| ${int(rate)} | ${NAMES[writer]} | ${int(median(group.map((run) => run.messages)))} | ${msSpread(spread(p50s(handover)))} | ${msSpread(spread(p99s(handover)))} | ${msSpread(spread(group.map((run) => run.sendSide!.p99Ms)))} | ${group.reduce((n, run) => n + run.lost, 0)} |`,
      ];
    }),
  );
  return [
    `## What coalescing costs a write: the same ${receivers} unsigned replicas, the writer coalescing or not, ${repeats} interleaved runs each (the order rotates), after an unrecorded warm-up run of each`,
    '',
    `A write goes out at once; only the writes that follow it before the process's next tick (the rest of the same timer callback here, when the timer fired late and several writes were due) share a message, sent on that tick. Both writers send to the same replicas${coalescingWarmUp}. One message a write is run a second time in each round as the control: what the two differ by is how far two runs of one setup differ on this machine, so a difference within it is not a cost, unless every pair shows it. Lag from the handover (median, range):`,
    '',
    '| writes/s | writer | messages | p50, ms | p99, ms | send side p99, ms | lost |',
    '|---|---|---|---|---|---|---|',
    ...rows,
    '',
    ...coalescingTargets(r).map(
      (t) =>
        `- At ${int(t.rate)}/s coalescing gives ${x(t.p50.median)} the p50 and ${x(t.p99.median)} the p99 of one message a write (paired runs, ${x(t.p99.min)} to ${x(t.p99.max)}); its p99 was the higher in ${t.worse[0]} of ${t.worse[1]} pairs${t.control ? `; the control gives ${x(t.control.p50.median)} and ${x(t.control.p99.median)} (${x(t.control.p99.min)} to ${x(t.control.p99.max)})` : ''}: ${t.p99.median <= 1 ? 'no worse' : t.met ? 'within the noise of two runs of one setup' : 'worse'}.`,
    ),
    '',
  ];
}
