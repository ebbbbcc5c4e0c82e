import { nearestRank } from '@local-cache-sync/core/prometheus';
import { formatNines, nines } from '../../service/src/probe/history';
import { type ChaosRun, LOSES_MESSAGES } from './chaos';

/** One check of the service's own counters against the history. */
export interface Verdict {
  name: string;
  ok: boolean;
  detail: string;
}

/**
 * How far the service's stale-read count may exceed the history's: reads racing an invalidation
 * (concurrent, counted apart by the history) and chance. 3 standard deviations of a count plus 10 %.
 */
export const staleTolerance = (count: number) => Math.ceil(3 * Math.sqrt(Math.max(count, 1)) + 0.1 * count);

/** The share of the service's stale reads the history confirms (1 when it counted none). */
export const confirmedShare = (service: number, confirmed: number) =>
  service === 0 ? 1 : Math.min(1, confirmed / service);

/**
 * A dying replica takes with it the counts Prometheus had not scraped yet (every second in the
 * stack) and the checks still queued: hits it answered this long before its death may go uncounted.
 */
export const UNSCRAPED_BEFORE_DEATH_MS = 5000;

/**
 * The stale reads the service must have counted: those the history confirms on a hit (its audit
 * checks every hit in the stack, and dates a newer version by its acknowledgment, as the history
 * does), except on a replica that died before its counts could be scraped.
 */
export function staleHitsConfirmed(run: ChaosRun): number {
  const deaths = run.steps.filter((s) => s.diedAt !== undefined);
  return run.check.staleReads.filter(
    (r) =>
      r.hit &&
      !deaths.some(
        (d) =>
          d.victim === r.replica && r.receivedAt <= d.diedAt! && d.diedAt! - r.receivedAt < UNSCRAPED_BEFORE_DEATH_MS,
      ),
  ).length;
}

export function verdicts(run: ChaosRun): Verdict[] {
  const out: Verdict[] = [];
  const losing = run.steps.filter((s) => LOSES_MESSAGES.has(s.fault) && s.markerWritten);
  const silent = losing.filter((s) => s.missedAfter <= s.missedBefore);
  out.push({
    name: 'missed messages counted on the replica that was cut or paused past the limit',
    ok: silent.length === 0,
    detail:
      losing.length === 0
        ? 'no such step in this schedule'
        : `${losing.length - silent.length} of ${losing.length} steps counted (${losing
            .map((s) => `${s.fault} book-${s.replica + 1} +${s.missedAfter - s.missedBefore}`)
            .join(', ')})`,
  });
  // The service dates a newer version by its acknowledgment (a write never acknowledged:
  // STALE_CHECK_ACK_WAIT_MS after its commit); the client also knows it from any read that
  // returned it, earlier when a write's answer is late. So every stale hit the history confirms
  // must be counted, as stale or as unacknowledged (misses are fresh from the database and never
  // stale in the history), and the stale count may exceed the history's only by the reads that
  // overlapped a newer write, and chance. The share confirmed is reported (target: 90 %).
  const service = run.service.staleReads;
  const unacknowledged = run.service.staleUnacknowledged ?? 0;
  const confirmed = staleHitsConfirmed(run);
  const [history, overlapping] = [run.check.staleReads.length, run.check.concurrentReads];
  const high = history + overlapping + staleTolerance(history + overlapping);
  out.push({
    name: 'stale reads counted by the service agree with the history',
    ok: service + unacknowledged >= confirmed && service <= high,
    detail: `service ${service} stale and ${unacknowledged} before the newer write was acknowledged; history ${history} stale, ${confirmed} of them hits its audit must have counted (at most ${high} allowed); ${(confirmedShare(service, confirmed) * 100).toFixed(0)} % of the service's stale confirmed (target 90 %), ${Math.max(0, confirmed - service)} confirmed ones counted only as unacknowledged`,
  });
  out.push({
    name: 'no acknowledged write lost',
    ok: run.check.lostWrites === 0,
    detail: `${run.check.lostWrites} lost`,
  });
  return out;
}

/** The three SLIs of a run, as nines. */
export function runNines(run: ChaosRun) {
  const s = run.service;
  return {
    freshReads: nines(run.check.staleReads.length, run.check.readsJudged),
    convergedDeliveries: nines(s.deliveries - s.deliveredWithin1s + s.missed, s.deliveries + s.missed),
    freshHits: nines(s.staleReads, s.staleChecks),
  };
}

/** The line a run ends with. */
export function summaryLine(run: ChaosRun): string {
  const ages = run.check.staleReads.map((r) => r.ageSeconds).sort((a, b) => a - b);
  const n = runNines(run);
  const failed = verdicts(run).filter((v) => !v.ok);
  return (
    `${run.mode}: ${run.check.readsJudged} reads judged, ${ages.length} stale` +
    (ages.length > 0
      ? ` (age p50 ${nearestRank(ages, 0.5).toFixed(2)} s, p99 ${nearestRank(ages, 0.99).toFixed(2)} s, max ${ages.at(-1)!.toFixed(2)} s)`
      : '') +
    `, ${run.check.staleBooksLeft.length} stale books left; nines: fresh reads ${formatNines(n.freshReads)}, converged deliveries ${formatNines(n.convergedDeliveries)}, fresh hits ${formatNines(n.freshHits)}; ` +
    (failed.length === 0 ? 'counters agree with the history' : `DISAGREE: ${failed.map((v) => v.name).join('; ')}`)
  );
}
