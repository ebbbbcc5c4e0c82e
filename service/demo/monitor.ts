import { type StackReplica, sampleSum } from '../local-stack/stack';
import type { Probe } from '../src/probe/probe';

/** One replica at one moment, as the terminal view and the report show it. */
export interface ReplicaSample {
  replica: string;
  up: boolean;
  /** Stopped by the demo (SIGSTOP): it answers nothing until resumed. */
  paused?: boolean;
  subscriber: 'up' | 'down' | '?';
  /** Hits over lookups since the previous sample (undefined without lookups). */
  hitRatio?: number;
  /** Publish-to-evict lag over the replica's last 10 s, exact quantiles of its own samples, seconds. */
  lagP50?: number;
  lagP99?: number;
  /** The service's counts (its /metrics), running totals across restarts. */
  missed: number;
  staleService: number;
  /** Stale values answered on purpose (fail-safe, marked X-Cache: STALE): the service's count, and the probe's reads that saw the mark. */
  staleOnPurposeService: number;
  staleOnPurposeProbe: number;
  /** Invalidations applied here, and of them those applied within 1 s (the converged-deliveries SLI). */
  deliveries: number;
  deliveredWithin1s: number;
  /** Reads of this replica the probe judged (fresh or stale: the fresh-reads SLI's events). */
  judged: number;
  /** The probe's counts: stale reads it got from this replica, books it last read stale here, longest stale episode. */
  staleProbe: number;
  staleNow: number;
  maxStaleWindow: number;
}

export interface Sample {
  /** Seconds since the demo started. */
  t: number;
  replicas: ReplicaSample[];
}

interface Counters {
  hits: number;
  misses: number;
  missed: number;
  stale: number;
  staleOnPurpose: number;
  deliveries: number;
  deliveredWithin1s: number;
}

/** The counters kept as running totals across a replica's restarts. */
type Carried = Pick<Counters, 'missed' | 'stale' | 'staleOnPurpose' | 'deliveries' | 'deliveredWithin1s'>;
const NONE: Carried = { missed: 0, stale: 0, staleOnPurpose: 0, deliveries: 0, deliveredWithin1s: 0 };
const plus = (a: Carried, b: Carried): Carried => ({
  missed: a.missed + b.missed,
  stale: a.stale + b.stale,
  staleOnPurpose: a.staleOnPurpose + b.staleOnPurpose,
  deliveries: a.deliveries + b.deliveries,
  deliveredWithin1s: a.deliveredWithin1s + b.deliveredWithin1s,
});

const RECENT_LAG = 'cache_invalidation_lag_recent_seconds';
/** A quantile of the replica's recent lag, or undefined when it received nothing lately. */
function recentLag(exposition: string, quantile: string): number | undefined {
  const match = new RegExp(`^${RECENT_LAG}\\{[^}]*q="${quantile}"[^}]*\\} (\\S+)$`, 'm').exec(exposition);
  return match ? Number(match[1]) : undefined;
}

/**
 * Scrapes every replica's /metrics and reads the probe, once a second: the live view and the
 * report's time series come from here. Counters survive a replica restart as running totals.
 */
export class Monitor {
  readonly samples: Sample[] = [];
  private readonly previous = new Map<string, Counters>();
  private readonly carried = new Map<string, Carried>();
  private readonly startedAt = Date.now();

  constructor(
    private readonly replicas: () => StackReplica[],
    private readonly probe: Probe,
    private readonly paused: (replica: string) => boolean = () => false,
  ) {}

  async sample(): Promise<Sample> {
    const probeSummary = this.probe.summary();
    const replicas = await Promise.all(
      this.replicas().map(async (replica, i): Promise<ReplicaSample> => {
        const fromProbe = probeSummary.replicas[i];
        const base = {
          replica: replica.id,
          paused: this.paused(replica.id),
          staleProbe: fromProbe?.stale ?? 0,
          staleOnPurposeProbe: fromProbe?.markedStale ?? 0,
          judged: (fromProbe?.fresh ?? 0) + (fromProbe?.stale ?? 0),
          staleNow: fromProbe?.openEpisodes ?? 0,
          maxStaleWindow: fromProbe?.maxStaleWindowSeconds ?? 0,
        };
        const carried = this.carried.get(replica.id) ?? NONE;
        let text: string;
        try {
          const response = await fetch(`${replica.url}/metrics`, { signal: AbortSignal.timeout(700) });
          text = await response.text();
        } catch {
          const total = plus(carried, this.previous.get(replica.id) ?? NONE);
          return {
            ...base,
            up: false,
            subscriber: '?',
            missed: total.missed,
            staleService: total.stale,
            staleOnPurposeService: total.staleOnPurpose,
            deliveries: total.deliveries,
            deliveredWithin1s: total.deliveredWithin1s,
          };
        }
        const now: Counters = {
          hits: sampleSum(text, 'cache_gets_total', { result: 'hit' }),
          misses: sampleSum(text, 'cache_gets_total', { result: 'miss' }),
          missed: sampleSum(text, 'cache_invalidations_missed_total'),
          stale: sampleSum(text, 'cache_stale_reads_total'),
          staleOnPurpose: sampleSum(text, 'cache_stale_served_total'),
          deliveries: sampleSum(text, 'cache_invalidation_lag_seconds_count'),
          deliveredWithin1s: sampleSum(text, 'cache_invalidation_lag_seconds_bucket', { le: '1' }),
        };
        let before = this.previous.get(replica.id);
        if (before && (now.missed < before.missed || now.stale < before.stale || now.hits < before.hits)) {
          // The replica restarted: its counters began again; keep the running totals.
          this.carried.set(replica.id, plus(carried, before));
          before = undefined;
        }
        this.previous.set(replica.id, now);
        const total = plus(this.carried.get(replica.id) ?? NONE, now);
        const lookups = now.hits + now.misses - (before ? before.hits + before.misses : 0);
        return {
          ...base,
          up: true,
          subscriber: sampleSum(text, 'cache_invalidation_subscriber_up') === 1 ? 'up' : 'down',
          hitRatio: lookups > 0 ? (now.hits - (before?.hits ?? 0)) / lookups : undefined,
          lagP50: recentLag(text, '0.5'),
          lagP99: recentLag(text, '0.99'),
          missed: total.missed,
          staleService: total.stale,
          staleOnPurposeService: total.staleOnPurpose,
          deliveries: total.deliveries,
          deliveredWithin1s: total.deliveredWithin1s,
        };
      }),
    );
    const sample = { t: (Date.now() - this.startedAt) / 1000, replicas };
    this.samples.push(sample);
    return sample;
  }
}
