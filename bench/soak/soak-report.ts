import type { MemorySample, SoakResult } from './soak';

/** -log10 of the share that failed; Infinity when none did (the run proves at most log10(total)). */
export const nines = (good: number, total: number) => (total > 0 ? -Math.log10(1 - good / total) : Number.NaN);

/** Nines as written: "≥ n" when nothing failed (the most the run can prove), else two decimals. */
export function ninesCell(good: number, total: number): string {
  if (total === 0) return '-';
  if (good >= total) return `≥ ${Math.log10(total).toFixed(2)} (none failed)`;
  return nines(good, total).toFixed(2);
}

export interface MemoryTrend {
  replica: string;
  /** Mean over the first and the last minute of samples, MiB. */
  heapFirst: number;
  heapLast: number;
  /**
   * The heap that survived the last full collection (garbage not yet collected is no leak), MiB:
   * the median of its samples over the window after the first minute and over the last window
   * (a tenth of the run, at least a minute: one collection's survivors vary by megabytes), and its
   * least-squares slope per minute over the run.
   */
  liveFirst: number;
  liveLast: number;
  liveSlope: number;
  rssFirst: number;
  rssLast: number;
  /** Least-squares slope over the whole run, MiB per minute. */
  heapSlope: number;
  rssSlope: number;
}

const MIB = 2 ** 20;

function slope(points: { t: number; v: number }[]): number {
  const n = points.length;
  if (n < 2) return 0;
  const mt = points.reduce((s, p) => s + p.t, 0) / n;
  const mv = points.reduce((s, p) => s + p.v, 0) / n;
  const num = points.reduce((s, p) => s + (p.t - mt) * (p.v - mv), 0);
  const den = points.reduce((s, p) => s + (p.t - mt) ** 2, 0);
  return den === 0 ? 0 : num / den;
}

export function memoryTrends(samples: MemorySample[]): MemoryTrend[] {
  const replicas = [...new Set(samples.map((s) => s.replica))];
  return replicas.map((replica) => {
    const own = samples.filter((s) => s.replica === replica);
    const end = Math.max(...own.map((s) => s.t));
    const start = Math.min(...own.map((s) => s.t));
    const mean = (list: MemorySample[], pick: (s: MemorySample) => number) =>
      list.reduce((n, s) => n + pick(s), 0) / Math.max(1, list.length) / MIB;
    const first = own.filter((s) => s.t <= start + 60);
    const last = own.filter((s) => s.t >= end - 60);
    const collected = own.filter((s) => s.liveHeapBytes > 0);
    const window = Math.max(60, (end - start) / 10);
    const median = (list: MemorySample[]) => {
      const sorted = list.map((s) => s.liveHeapBytes).sort((a, b) => a - b);
      return sorted.length === 0 ? Number.NaN : sorted[Math.floor((sorted.length - 1) / 2)]! / MIB;
    };
    return {
      replica,
      liveFirst: median(collected.filter((s) => s.t >= start + 60 && s.t <= start + 60 + window)),
      liveLast: median(collected.filter((s) => s.t >= end - window)),
      liveSlope: slope(collected.map((s) => ({ t: s.t / 60, v: s.liveHeapBytes / MIB }))),
      heapFirst: mean(first, (s) => s.heapBytes),
      heapLast: mean(last, (s) => s.heapBytes),
      rssFirst: mean(first, (s) => s.rssBytes),
      rssLast: mean(last, (s) => s.rssBytes),
      heapSlope: slope(own.map((s) => ({ t: s.t / 60, v: s.heapBytes / MIB }))),
      rssSlope: slope(own.map((s) => ({ t: s.t / 60, v: s.rssBytes / MIB }))),
    };
  });
}

/** The nines a run proves: what it measured, capped by log10 of what it counted (none failed proves no more). */
export const provenNines = (good: number, total: number) =>
  total > 0 ? Math.min(nines(good, total), Math.log10(total)) : Number.NaN;

/** The soak's targets, each with what was measured and whether it was met. */
export function soakTargets(r: SoakResult): { target: string; measured: string; met: boolean }[] {
  const trends = memoryTrends(r.memory);
  const flat = trends.every((t) => t.liveLast <= t.liveFirst * 1.1);
  return [
    {
      target: 'deliveries applied within 1 s: at least 6 nines',
      measured: ninesCell(r.within1s, r.expected),
      met: provenNines(r.within1s, r.expected) >= 6,
    },
    {
      target: 'deliveries applied within 100 ms: at least 4 nines',
      measured: ninesCell(r.within100ms, r.expected),
      met: provenNines(r.within100ms, r.expected) >= 4,
    },
    { target: 'messages missed: 0', measured: String(r.missed), met: r.missed === 0 },
    {
      target:
        'heap flat: what survives a full collection, at the end within 10 % of after the first minute, on every replica',
      measured: trends.map((t) => `${t.replica} ${t.liveFirst.toFixed(1)} → ${t.liveLast.toFixed(1)} MiB`).join(', '),
      met: flat,
    },
  ];
}

const int = (n: number) => Math.round(n).toLocaleString('en-US');

/** The report of one soak: counts, nines with the most the run can prove, memory, targets. */
export function soakMarkdown(r: SoakResult, machine: string): string {
  const trends = memoryTrends(r.memory);
  const targets = soakTargets(r);
  return [
    `Soak: ${r.seconds / 60} min in \`${r.mode}\` mode, ${r.replicas} replicas, no faults; a writer using the library announcing ${r.announceRate} invalidations/s (signed) to all of them, and the probe writing ${r.writeRate} books/s through the Book service and reading as many (seed ${r.seed}); ${machine}.`,
    '',
    `- ${int(r.announced)} invalidations announced by the writer (${int(r.announceErrors)} failed), each to ${r.replicas} replicas; ${int(r.writes)} probe writes acknowledged (${int(r.writesFailed)} failed or unanswered within 1.5 s), ${int(r.published)} invalidations published by the replicas (a write sends its key invalidation and a tag invalidation of its author lists), each to the ${r.replicas - 1} others; ${int(r.expected)} deliveries expected, ${int(r.delivered)} applied. The most nines this run can prove: ${Math.log10(Math.max(1, r.expected)).toFixed(2)}.`,
    `- Within 100 ms: ${int(r.within100ms)} (${ninesCell(r.within100ms, r.expected)} nines); within 1 s: ${int(r.within1s)} (${ninesCell(r.within1s, r.expected)} nines); missed: ${int(r.missed)}.`,
    `- Reads: ${int(r.readsJudged)} judged by the client history, ${int(r.staleReads)} stale (${ninesCell(r.readsJudged - r.staleReads, r.readsJudged)} nines fresh). The replicas' audit checked ${int(r.serviceStaleChecks)} hits: ${int(r.serviceStaleReads)} stale (the history found ${int(r.staleHits)} stale hits), and ${int(r.serviceStaleUnacknowledged)} older than a commit not yet acknowledged (counted apart).`,
    `- Memory (MiB; live heap: what survived the last full collection, medians over the window after the first minute and over the last, a tenth of the run each, and its slope; heap in use and RSS: means of the first and of the last minute, slope per minute over the run): ${trends
      .map(
        (t) =>
          `${t.replica} live heap ${t.liveFirst.toFixed(1)} → ${t.liveLast.toFixed(1)} (${t.liveSlope >= 0 ? '+' : ''}${t.liveSlope.toFixed(2)}/min), in use ${t.heapFirst.toFixed(1)} → ${t.heapLast.toFixed(1)} (${t.heapSlope >= 0 ? '+' : ''}${t.heapSlope.toFixed(2)}/min), RSS ${t.rssFirst.toFixed(0)} → ${t.rssLast.toFixed(0)} (${t.rssSlope >= 0 ? '+' : ''}${t.rssSlope.toFixed(2)}/min)`,
      )
      .join('; ')}.`,
    '',
    '| target | measured | |',
    '|---|---|---|',
    ...targets.map((t) => `| ${t.target} | ${t.measured} | ${t.met ? 'met' : '**missed**'} |`),
  ].join('\n');
}

/** The README's lines for one full soak: each target with what was measured, and where the rest is. */
export function soakReadmeLines(r: SoakResult, machine: string): string {
  const targets = soakTargets(r)
    .map((t) => `${t.target.split(':')[0]}: ${t.measured} (${t.met ? 'met' : '**missed**'})`)
    .join('; ');
  return [
    `Soak, ${r.seconds / 60} min in \`${r.mode}\` mode, ${r.replicas} replicas, ${r.announceRate} invalidations/s, no faults (${machine}): ${int(r.expected)} deliveries expected, ${int(r.delivered)} applied.`,
    `${targets}. Reads fresh by the client's history: ${ninesCell(r.readsJudged - r.staleReads, r.readsJudged)} nines. All of it: [bench/SOAK.md](bench/SOAK.md).`,
  ].join(' ');
}
