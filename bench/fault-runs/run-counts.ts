import type { SyncMode } from '@local-cache-sync/core';
import { waitFor } from '../../service/local-stack/processes';
import type { Stack } from '../../service/local-stack/stack';

/** The service's own counts over the run (Prometheus' increase(), which spans replica restarts). */
export interface ServiceCounts {
  staleReads: number;
  staleChecks: number;
  /** Hits older than a commit whose write was not acknowledged yet: counted apart (absent in runs before). */
  staleUnacknowledged?: number;
  deliveries: number;
  deliveredWithin1s: number;
  missed: number;
}

/** Per SLI (fresh-reads, converged-deliveries, fresh-hits): the SLO rules' view at the end of a run. */
export type SloView = Record<string, { budgetLeft?: number; maxBurnRate5m?: number; maxBurnRate1h?: number }>;

/** The service's counters over the run, once Prometheus has scraped every replica after the end. */
export async function serviceCounts(stack: Stack, seconds: number, endedAt: number): Promise<ServiceCounts> {
  const prometheus = stack.prometheus!;
  await waitFor(
    async () => Number((await prometheus.query('min(timestamp(up))'))[0]?.value[1] ?? 0) * 1000 > endedAt + 1000,
    { timeoutMs: 15_000, intervalMs: 200, message: 'Prometheus scraped every replica and the probe after the run' },
  );
  const range = `${Math.ceil(seconds) + 30}s`;
  const total = async (selector: string) =>
    Math.round(Number((await prometheus.query(`sum(increase(${selector}[${range}]))`))[0]?.value[1] ?? 0));
  return {
    staleReads: await total('cache_stale_reads_total'),
    staleChecks: await total('cache_stale_checks_total'),
    staleUnacknowledged: await total('cache_stale_reads_unacknowledged_total'),
    deliveries: await total('cache_invalidation_lag_seconds_count'),
    deliveredWithin1s: await total('cache_invalidation_lag_seconds_bucket{le=~"1|1.0"}'),
    missed: await total('cache_invalidations_missed_total'),
  };
}

/** The SLO rules (Sloth's) over the run: budget left at the end and the fastest burn, per SLI of this mode. */
export async function sloView(stack: Stack, mode: SyncMode, seconds: number, endedAt: number): Promise<SloView> {
  const prometheus = stack.prometheus!;
  // The burn rates are rules over rules: wait until their last evaluation saw the final scrape.
  await waitFor(
    async () =>
      Number(
        (await prometheus.query(`min(timestamp(slo:current_burn_rate:ratio{mode="${mode}"}))`))[0]?.value[1] ?? 0,
      ) *
        1000 >
      endedAt + 3000,
    { timeoutMs: 20_000, intervalMs: 200, message: 'the SLO rules evaluated after the run' },
  );
  const range = `${Math.ceil(seconds)}s`;
  const bySli = async (expr: string) =>
    Object.fromEntries(
      (await prometheus.query(expr)).map((s) => [s.metric.sli ?? '', Number(s.value[1])] as [string, number]),
    );
  const budgetLeft = await bySli(`slo:period_error_budget_remaining:ratio{mode="${mode}"}`);
  const burn5m = await bySli(`max_over_time(slo:current_burn_rate:ratio{mode="${mode}"}[${range}])`);
  const burn1h = await bySli(
    `max by (sli) (max_over_time((slo:sli_error:ratio_rate1h{mode="${mode}"} / on (sloth_id) group_left () slo:error_budget:ratio{mode="${mode}"})[${range}:5s]))`,
  );
  const slis = ['fresh-reads', 'converged-deliveries', 'fresh-hits'];
  return Object.fromEntries(
    slis.map((sli) => [sli, { budgetLeft: budgetLeft[sli], maxBurnRate5m: burn5m[sli], maxBurnRate1h: burn1h[sli] }]),
  );
}
