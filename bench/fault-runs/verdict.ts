import { nearestRank } from '@local-cache-sync/core/prometheus';
import { formatNines, nines } from '../../service/src/probe/history';
import { type ChaosRun, LOSES_MESSAGES } from './chaos';

/** One check of the service's own counters against the history. */
export interface Verdict {
  name: string;
  ok: boolean;
  detail: string;
}

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
  // The service dates a newer version by its acknowledgment, as the client does (a write never
  // acknowledged: STALE_CHECK_ACK_WAIT_MS after its commit). It must count every stale hit the
  // history confirms (misses are fresh from the database and never stale in the history), and at
  // least 90 % of what it counts must be confirmed (two spare for the edges of small counts).
  const service = run.service.staleReads;
  const confirmed = staleHitsConfirmed(run);
  const share = confirmedShare(service, confirmed);
  out.push({
    name: 'stale reads counted by the service agree with the history',
    ok: service >= confirmed && (share >= 0.9 || service - confirmed <= 2),
    detail: `service ${service} (and ${run.service.staleUnacknowledged ?? '-'} before the newer write was acknowledged, counted apart); history ${run.check.staleReads.length} stale, ${confirmed} of them hits its audit must have counted: ${(share * 100).toFixed(0)} % of the service's confirmed, ${Math.max(0, confirmed - service)} missed`,
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
