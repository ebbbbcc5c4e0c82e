import { nearestRank } from '@local-cache-sync/core/prometheus';
import type { GroundTruth, ReadResult } from './ground-truth';

export interface ReplicaSummary {
  replica: string;
  reads: number;
  fresh: number;
  stale: number;
  errors: number;
  /** Errors that were timeouts: the probe stopped waiting, the replica may have answered later. */
  abandoned: number;
  /**
   * Reads the replica answered marked stale on purpose (X-Cache: STALE: fail-safe served a kept
   * value because MongoDB failed or was slow), and of them those the probe judged stale.
   */
  markedStale: number;
  markedStaleJudgedStale: number;
  /** Fresh reads that a newer write, sent before they returned, may have overtaken (see GroundTruth). */
  ambiguous: number;
  /** Stale episodes that ended (a later read returned the version) and those still open at the end. */
  staleEpisodes: number;
  openEpisodes: number;
  maxStaleWindowSeconds: number;
  p99StaleWindowSeconds: number;
}

export interface ProbeSummary {
  at: string;
  writes: { ok: number; errors: number };
  replicas: ReplicaSummary[];
}

/** Plain counts of what the probe did, for the summary (the metrics carry the same numbers). */
export class ProbeTally {
  readonly reads = new Map<string, Record<ReadResult, number>>();
  readonly abandoned = new Map<string, number>();
  /** Reads answered marked stale (X-Cache: STALE), by the probe's judgment of them. */
  readonly marked = new Map<string, { fresh: number; stale: number }>();
  readonly writes = { ok: 0, errors: 0 };

  constructor(replicas: string[]) {
    for (const replica of replicas) this.reads.set(replica, { fresh: 0, stale: 0, error: 0 });
  }

  read(replica: string, result: ReadResult): void {
    this.reads.get(replica)![result] += 1;
  }

  /** A read the replica answered marked stale on purpose, judged fresh or stale by the probe. */
  markedStale(replica: string, judged: 'fresh' | 'stale'): void {
    const counts = this.marked.get(replica) ?? { fresh: 0, stale: 0 };
    counts[judged] += 1;
    this.marked.set(replica, counts);
  }

  abandon(replica: string): void {
    this.abandoned.set(replica, (this.abandoned.get(replica) ?? 0) + 1);
  }

  write(ok: boolean): void {
    if (ok) this.writes.ok += 1;
    else this.writes.errors += 1;
  }
}

const quantile = (values: number[], q: number) =>
  nearestRank(
    [...values].sort((a, b) => a - b),
    q,
  );

export function summarize(tally: ProbeTally, truth: GroundTruth, now: number): ProbeSummary {
  const open = truth.openEpisodes(now);
  return {
    at: new Date(now).toISOString(),
    writes: { ...tally.writes },
    replicas: [...tally.reads.entries()].map(([replica, counts]) => {
      const windows = [...truth.windows, ...open].filter((w) => w.replica === replica).map((w) => w.seconds);
      return {
        replica,
        reads: counts.fresh + counts.stale + counts.error,
        fresh: counts.fresh,
        stale: counts.stale,
        errors: counts.error,
        abandoned: tally.abandoned.get(replica) ?? 0,
        markedStale: (tally.marked.get(replica)?.fresh ?? 0) + (tally.marked.get(replica)?.stale ?? 0),
        markedStaleJudgedStale: tally.marked.get(replica)?.stale ?? 0,
        ambiguous: truth.ambiguousReads(replica),
        staleEpisodes: truth.windows.filter((w) => w.replica === replica).length,
        openEpisodes: open.filter((w) => w.replica === replica).length,
        maxStaleWindowSeconds: Math.max(0, ...windows),
        p99StaleWindowSeconds: quantile(windows, 0.99),
      };
    }),
  };
}

export function renderTable(summary: ProbeSummary): string {
  const header = [
    'replica',
    'reads',
    'fresh',
    'stale',
    'errors',
    'marked stale',
    'episodes',
    'open',
    'max window s',
    'p99 window s',
  ];
  const rows = summary.replicas.map((r) =>
    [
      r.replica,
      r.reads,
      r.fresh,
      r.stale,
      r.errors,
      r.markedStale,
      r.staleEpisodes,
      r.openEpisodes,
      r.maxStaleWindowSeconds.toFixed(3),
      r.p99StaleWindowSeconds.toFixed(3),
    ].map(String),
  );
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padStart(widths[i]!)).join('  ');
  return [line(header), ...rows.map(line), `writes: ${summary.writes.ok} ok, ${summary.writes.errors} errors`].join(
    '\n',
  );
}
