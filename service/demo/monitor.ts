import { type StackReplica, sampleSum } from '../local-stack/stack';
import type { Probe } from '../src/probe/probe';

/** One replica at one moment, as the terminal view and the report show it. */
export interface ReplicaSample {
  replica: string;
  up: boolean;
  subscriber: 'up' | 'down' | '?';
  /** Hits over lookups since the previous sample (undefined without lookups). */
  hitRatio?: number;
  /** Publish-to-evict lag p99 since the previous sample, seconds. */
  lagP99?: number;
  missed: number;
  staleService: number;
  staleProbe: number;
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
  lagBuckets: Map<number, number>;
  missed: number;
  stale: number;
}

const LAG = 'cache_invalidation_lag_seconds_bucket';

function lagBuckets(exposition: string): Map<number, number> {
  const buckets = new Map<number, number>();
  for (const match of exposition.matchAll(new RegExp(`^${LAG}\\{[^}]*le="([^"]+)"[^}]*\\} (\\S+)$`, 'gm'))) {
    buckets.set(match[1] === '+Inf' ? Number.POSITIVE_INFINITY : Number(match[1]), Number(match[2]));
  }
  return buckets;
}

/** The bucket bound below which 99 % of the observations in (now - before) fall. */
function p99(now: Map<number, number>, before: Map<number, number> | undefined): number | undefined {
  const bounds = [...now.keys()].sort((a, b) => a - b);
  const delta = (le: number) => (now.get(le) ?? 0) - (before?.get(le) ?? 0);
  const total = delta(Number.POSITIVE_INFINITY);
  if (!(total > 0)) return undefined;
  return bounds.find((le) => delta(le) >= 0.99 * total);
}

/**
 * Scrapes every replica's /metrics and reads the probe, once a second: the live view and the
 * report's time series come from here. Counters survive a replica restart as running totals.
 */
export class Monitor {
  readonly samples: Sample[] = [];
  private readonly previous = new Map<string, Counters>();
  private readonly carried = new Map<string, { missed: number; stale: number }>();
  private readonly startedAt = Date.now();

  constructor(
    private readonly replicas: () => StackReplica[],
    private readonly probe: Probe,
  ) {}

  async sample(): Promise<Sample> {
    const probeSummary = this.probe.summary();
    const replicas = await Promise.all(
      this.replicas().map(async (replica, i): Promise<ReplicaSample> => {
        const fromProbe = probeSummary.replicas[i];
        const base = {
          replica: replica.id,
          staleProbe: fromProbe?.stale ?? 0,
          maxStaleWindow: fromProbe?.maxStaleWindowSeconds ?? 0,
        };
        const carried = this.carried.get(replica.id) ?? { missed: 0, stale: 0 };
        let text: string;
        try {
          const response = await fetch(`${replica.url}/metrics`, { signal: AbortSignal.timeout(700) });
          text = await response.text();
        } catch {
          const last = this.previous.get(replica.id);
          return {
            ...base,
            up: false,
            subscriber: '?',
            missed: carried.missed + (last?.missed ?? 0),
            staleService: carried.stale + (last?.stale ?? 0),
          };
        }
        const now: Counters = {
          hits: sampleSum(text, 'cache_gets_total', { result: 'hit' }),
          misses: sampleSum(text, 'cache_gets_total', { result: 'miss' }),
          lagBuckets: lagBuckets(text),
          missed: sampleSum(text, 'cache_invalidations_missed_total'),
          stale: sampleSum(text, 'cache_stale_reads_total'),
        };
        let before = this.previous.get(replica.id);
        if (before && (now.missed < before.missed || now.stale < before.stale || now.hits < before.hits)) {
          // The replica restarted: its counters began again; keep the running totals.
          this.carried.set(replica.id, { missed: carried.missed + before.missed, stale: carried.stale + before.stale });
          before = undefined;
        }
        this.previous.set(replica.id, now);
        const total = this.carried.get(replica.id) ?? { missed: 0, stale: 0 };
        const lookups = now.hits + now.misses - (before ? before.hits + before.misses : 0);
        return {
          ...base,
          up: true,
          subscriber: sampleSum(text, 'cache_invalidation_subscriber_up') === 1 ? 'up' : 'down',
          hitRatio: lookups > 0 ? (now.hits - (before?.hits ?? 0)) / lookups : undefined,
          lagP99: p99(now.lagBuckets, before?.lagBuckets),
          missed: total.missed + now.missed,
          staleService: total.stale + now.stale,
        };
      }),
    );
    const sample = { t: (Date.now() - this.startedAt) / 1000, replicas };
    this.samples.push(sample);
    return sample;
  }
}
