// The tables and their reading that `make experiment` writes (docs/experiment.md, the README's failover table).
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { SyncMode, TopologyKind } from '@local-cache-sync/core';
import type { FaultName } from '../../service/local-stack/faults';
import { ROOT } from '../../service/local-stack/processes';
import { formatNines, nines } from '../../service/src/probe/history';
import type { WitnessResult } from './witness';

export const TTL_SECONDS = 300;

export interface Row {
  mode: SyncMode;
  fault: FaultName;
  topology: TopologyKind;
  /** The failover fault only: what the kill cost and what was counted. */
  failover?: {
    promotedAfterSeconds: number;
    publishErrors: number;
    receiversMissing: number;
    recoveredAfterSeconds: number;
    staleAfterRecovery: number;
    /** Writes the database acknowledged and then lost (GroundTruth.lostWrites): an alarm that must stay 0. */
    lostWrites: number;
  };
  staleReads: number;
  maxStaleWindow: number;
  p99StaleWindow: number;
  missed: number;
  recoveryMeanSeconds?: number;
  hitRatio: number;
  dbReadsPerSecond: number;
  witness: WitnessResult;
  /** The probe's stale reads and max window per replica (book-1..book-3). */
  perReplica: { stale: number; maxStaleWindowSeconds: number }[];
  /** The freshness SLIs' events over the run (docs/metrics-and-tracing.md, Freshness SLOs). */
  sli: { judged: number; deliveries: number; deliveredWithin1s: number };
}

/** The fresh-reads and converged-deliveries SLIs of some rows, as nines. */
function sliNines(rows: Row[]): { freshReads: string; convergedDeliveries: string } {
  const sum = (f: (r: Row) => number) => rows.reduce((n, r) => n + f(r), 0);
  const [applied, within, missed] = [
    sum((r) => r.sli.deliveries),
    sum((r) => r.sli.deliveredWithin1s),
    sum((r) => r.missed),
  ];
  return {
    freshReads: formatNines(
      nines(
        sum((r) => r.staleReads),
        sum((r) => r.sli.judged),
      ),
    ),
    convergedDeliveries: formatNines(nines(applied - within + missed, applied + missed)),
  };
}

/** The slowest replica to see the witness's write; still stale at the end shows as "> N s, open". */
function witnessCell({ seconds, open }: WitnessResult): string {
  const worst = seconds.indexOf(Math.max(...seconds));
  return open[worst] ? `> ${seconds[worst]!.toFixed(1)} s, open` : `${seconds[worst]!.toFixed(2)} s`;
}

export function failoverTable(rows: Row[]): string {
  const lines = [
    '| topology | mode | master gap (kill to promotion) | every replica back after | publishes rejected | to fewer receivers | messages missed | stale reads (probe) | stale reads after recovery | witness stale window | writes the database lost |',
    '|---|---|---|---|---|---|---|---|---|---|---|',
  ];
  for (const r of rows) {
    const f = r.failover!;
    lines.push(
      `| ${r.topology} | ${r.mode} | ${f.promotedAfterSeconds.toFixed(1)} s | ${f.recoveredAfterSeconds.toFixed(1)} s | ${f.publishErrors} | ${f.receiversMissing} | ${r.missed} | ${r.staleReads} | ${f.staleAfterRecovery} | ${witnessCell(r.witness)} | ${f.lostWrites} |`,
    );
  }
  return lines.join('\n');
}

/** What the failover table says, from its numbers. */
export function failoverReading(rows: Row[]): string {
  const lines: string[] = [];
  for (const mode of new Set(rows.map((r) => r.mode))) {
    const of = rows.filter((r) => r.mode === mode);
    const counted = of.map((r) => r.failover!.publishErrors + r.failover!.receiversMissing + r.missed);
    const after = of.reduce((n, r) => n + r.failover!.staleAfterRecovery, 0);
    const open = of.filter((r) => r.witness.open.some(Boolean)).map((r) => r.topology);
    const lost = of.reduce((n, r) => n + r.failover!.lostWrites, 0);
    lines.push(
      `- **${mode}**: ${of.map((r, i) => `${r.topology} ${counted[i]}`).join(', ')} losses counted (rejected + fewer receivers + missed); ` +
        `${after} stale reads after every replica was back` +
        (lost > 0
          ? ` (ALARM: the database lost ${lost} acknowledged writes; their stale reads are counted above)`
          : '') +
        (open.length > 0
          ? `; the witness book was still stale at the end on ${open.join(', ')} (until the TTL, ${TTL_SECONDS} s).`
          : '; the witness book was fresh everywhere by the end.'),
    );
  }
  return lines.join('\n');
}

export function table(rows: Row[]): string {
  const lines = [
    '| mode | fault | stale reads (probe) | max stale window | p99 stale window | witness stale window | messages missed | recovery (mean) | hit ratio | DB reads/s | fresh reads (nines) | converged deliveries (nines) |',
    '|---|---|---|---|---|---|---|---|---|---|---|---|',
  ];
  for (const r of rows) {
    const n = sliNines([r]);
    lines.push(
      `| ${r.mode} | ${r.fault} | ${r.staleReads} | ${r.maxStaleWindow.toFixed(2)} s | ${r.p99StaleWindow.toFixed(2)} s | ${witnessCell(r.witness)} | ${r.missed} | ${
        r.recoveryMeanSeconds === undefined ? '-' : `${(r.recoveryMeanSeconds * 1000).toFixed(0)} ms`
      } | ${(r.hitRatio * 100).toFixed(1)} % | ${r.dbReadsPerSecond.toFixed(1)} | ${n.freshReads} | ${n.convergedDeliveries} |`,
    );
  }
  return lines.join('\n');
}

/** What the table says, per mode, written from its numbers. */
export function reading(rows: Row[]): string {
  const lines = ['## Reading the table', ''];
  for (const mode of new Set(rows.map((r) => r.mode))) {
    const of = rows.filter((r) => r.mode === mode);
    const stale = of.reduce((n, r) => n + r.staleReads, 0);
    const worst = of.reduce((a, b) => (b.maxStaleWindow > a.maxStaleWindow ? b : a));
    const open = of.filter((r) => r.witness.open.some(Boolean)).map((r) => r.fault);
    const missed = of.reduce((n, r) => n + r.missed, 0);
    const n = sliNines(of);
    lines.push(
      `- **${mode}**: ${stale} stale reads seen by the probe over ${of.length} faults` +
        ` (fresh reads ${n.freshReads} nines, converged deliveries ${n.convergedDeliveries} nines)` +
        (stale > 0 ? `, the longest window ${worst.maxStaleWindow.toFixed(2)} s (${worst.fault})` : '') +
        `; ${missed} messages missed; the witness book ` +
        (open.length > 0
          ? `was still stale when the run ended after ${open.join(', ')} (it stays so until the TTL, ${TTL_SECONDS} s).`
          : 'was fresh on every replica by the end of every fault.'),
    );
  }
  return lines.join('\n');
}

/** The README's failover table lives between these markers; only this command writes it. */
const README_START = '<!-- failover-table: written by make experiment -->';

const README_END = '<!-- /failover-table -->';

export function writeReadmeBlock(body: string, date: string): void {
  const path = join(ROOT, 'README.md');
  const readme = readFileSync(path, 'utf8');
  const [start, end] = [readme.indexOf(README_START), readme.indexOf(README_END)];
  if (start < 0 || end < start) throw new Error(`README.md has no ${README_START} ... ${README_END} block`);
  const block = `${README_START}\nMeasured by \`make experiment\` on ${date.slice(0, 10)}:\n\n${body}\n${README_END}`;
  writeFileSync(path, readme.slice(0, start) + block + readme.slice(end + README_END.length));
}
