import { createSyncedCache, SYNC_MODES, type SyncMode } from '@local-cache-sync/core';
import { type Stack, sampleSum, startStack } from '../../service/local-stack/stack';
import { checkHistory, clock, type HistoryEvent } from '../../service/src/probe/history';
import { paced } from '../lag/latency';

export interface SoakOptions {
  seconds: number;
  /** Writes per second the probe sends through the Book service (its reads as many again). */
  writeRate: number;
  /**
   * Invalidations per second announced by a writer that uses the library itself (a synced cache of
   * its own on the stack's Redis, signed, in the stack's mode): the steady delivery load. FerretDB
   * takes about 20 ms a write here, so the Book service alone cannot carry hundreds a second.
   */
  announceRate: number;
  seed: number;
  mode: SyncMode;
  /** How often each replica's memory is sampled, ms. */
  sampleEveryMs?: number;
  log?: (line: string) => void;
}

/** One replica's memory at one moment. */
export interface MemorySample {
  t: number;
  replica: string;
  heapBytes: number;
  /** The heap in use right after the replica's last full collection (nodejs_heap_live_bytes; 0 before one). */
  liveHeapBytes: number;
  rssBytes: number;
}

export interface SoakResult {
  mode: SyncMode;
  seconds: number;
  writeRate: number;
  announceRate: number;
  seed: number;
  replicas: number;
  /** The probe's acknowledged writes, and those that failed or were not answered within its 1.5 s. */
  writes: number;
  writesFailed: number;
  /** Invalidations published (each change of a batch, each tag invalidation), summed over replicas. */
  published: number;
  /** The library writer's invalidations: announced and accepted by the bus, and failed. */
  announced: number;
  announceErrors: number;
  /** Deliveries expected: every replica's invalidation to every other replica, the writer's to all. */
  expected: number;
  /** Invalidations applied here from a peer (the lag histogram's count), and of them within 100 ms and 1 s. */
  delivered: number;
  within100ms: number;
  within1s: number;
  missed: number;
  /** The client history: reads judged, stale reads found; and what the replicas' audit counted. */
  readsJudged: number;
  staleReads: number;
  /** Of the stale reads the history found, those served from a cache (the audit checks every hit). */
  staleHits: number;
  serviceStaleReads: number;
  serviceStaleChecks: number;
  /** Hits the audit found older than a committed version whose write was not yet acknowledged (counted apart). */
  serviceStaleUnacknowledged: number;
  memory: MemorySample[];
}

const COUNTERS = {
  published: 'cache_invalidations_published_total',
  delivered: 'cache_invalidation_lag_seconds_count',
  missed: 'cache_invalidations_missed_total',
  staleReads: 'cache_stale_reads_total',
  staleChecks: 'cache_stale_checks_total',
  staleUnacknowledged: 'cache_stale_reads_unacknowledged_total',
} as const;

type Counts = Record<keyof typeof COUNTERS | 'within100ms' | 'within1s', number>;

/** Every replica's counters summed, from one scrape each. */
async function scrape(stack: Stack): Promise<{ counts: Counts; memory: Omit<MemorySample, 't'>[] }> {
  const texts = await Promise.all(stack.replicas.map(async (r) => (await fetch(`${r.url}/metrics`)).text()));
  const sum = (name: string, labels: Record<string, string> = {}) =>
    texts.reduce((n, text) => n + sampleSum(text, name, labels), 0);
  const counts = Object.fromEntries(Object.entries(COUNTERS).map(([key, name]) => [key, sum(name)])) as Counts;
  counts.within100ms = sum('cache_invalidation_lag_seconds_bucket', { le: '0.1' });
  counts.within1s = sum('cache_invalidation_lag_seconds_bucket', { le: '1' });
  const memory = stack.replicas.map((r, i) => ({
    replica: r.id,
    heapBytes: sampleSum(texts[i]!, 'nodejs_heap_size_used_bytes'),
    liveHeapBytes: sampleSum(texts[i]!, 'nodejs_heap_live_bytes'),
    rssBytes: sampleSum(texts[i]!, 'process_resident_memory_bytes'),
  }));
  return { counts, memory };
}

/** Book ids the writer cycles through: a bounded key space, as a real one is. */
const WRITER_IDS = 1000;

/**
 * Announces `rate` invalidations a second for `seconds`, each a new version of one of WRITER_IDS
 * books (nobody caches them: only the sync path is loaded), and counts what the bus took.
 */
async function announceSteadily(
  writer: Awaited<ReturnType<typeof createSyncedCache>>,
  rate: number,
  seconds: number,
): Promise<{ announced: number; announceErrors: number }> {
  let [n, announced, announceErrors] = [0, 0, 0];
  const pending = new Set<Promise<void>>();
  await paced(rate, seconds, (due) => {
    for (let i = 0; i < due; i += 1, n += 1) {
      const id = (0xa0000 + (n % WRITER_IDS)).toString(16).padStart(24, '0');
      const version = 2 + Math.floor(n / WRITER_IDS);
      const done: Promise<void> = writer
        .announce({ keys: [`id:${id}`], id, version, op: 'update' })
        .then(
          () => {
            announced += 1;
          },
          () => {
            announceErrors += 1;
          },
        )
        .finally(() => pending.delete(done));
      pending.add(done);
    }
  });
  await Promise.all([...pending]);
  return { announced, announceErrors };
}

/**
 * A steady day, no faults: three replicas in one sync mode, the probe writing `writeRate` books a
 * second through every replica and reading as many, for `seconds`. Counts every delivery against
 * what was published, the client history's verdict on every read, and each replica's memory.
 */
export async function runSoak(options: SoakOptions): Promise<SoakResult> {
  if (!SYNC_MODES.includes(options.mode)) throw new TypeError(`unknown sync mode ${options.mode}`);
  const log = options.log ?? (() => undefined);
  const history: HistoryEvent[] = [];
  const stack = await startStack({
    ttlSeconds: 300,
    syncMode: options.mode,
    seed: options.seed,
    probeRate: options.writeRate * 2,
    probeReadRatio: 0.5,
    probeKeys: 500,
    history,
    logLevel: 'warn',
  });
  try {
    const writer = await createSyncedCache({
      name: 'book',
      bus: { redis: stack.redis.url, channel: stack.channel },
      sync: { mode: options.mode },
      signing: { keys: stack.signingKeys },
    });
    const memory: MemorySample[] = [];
    const startedAt = clock();
    const before = await scrape(stack);
    const seconds = () => (clock() - startedAt) / 1000;
    const every = options.sampleEveryMs ?? 2_000;
    const announcing = announceSteadily(writer, options.announceRate, options.seconds);
    let logged = 0;
    while (seconds() < options.seconds) {
      await new Promise((resolve) => setTimeout(resolve, Math.min(every, (options.seconds - seconds()) * 1000)));
      const now = await scrape(stack);
      const t = seconds();
      for (const m of now.memory) memory.push({ t, ...m });
      if (t - logged < 10 && t < options.seconds) continue;
      logged = t;
      const summary = stack.probe.summary();
      log(
        `${t.toFixed(0)} s: ${summary.writes.ok} writes (${summary.writes.errors} failed), ${now.counts.delivered - before.counts.delivered} deliveries, ${now.counts.missed - before.counts.missed} missed`,
      );
    }
    stack.probe.stop();
    await stack.probe.done;
    const { announced, announceErrors } = await announcing;
    await writer.close();
    // Every message published has had time to arrive: a late one is counted, not lost.
    await new Promise((resolve) => setTimeout(resolve, 2000));
    const after = await scrape(stack);
    const delta = (key: keyof Counts) => after.counts[key] - before.counts[key];
    const check = checkHistory(history, Number.POSITIVE_INFINITY);
    const published = delta('published');
    return {
      mode: options.mode,
      seconds: options.seconds,
      writeRate: options.writeRate,
      announceRate: options.announceRate,
      seed: options.seed,
      replicas: stack.replicas.length,
      writes: stack.probe.summary().writes.ok,
      writesFailed: stack.probe.summary().writes.errors,
      published,
      announced,
      announceErrors,
      expected: published * (stack.replicas.length - 1) + announced * stack.replicas.length,
      delivered: delta('delivered'),
      within100ms: delta('within100ms'),
      within1s: delta('within1s'),
      missed: delta('missed'),
      readsJudged: check.readsJudged,
      staleReads: check.staleReads.length,
      staleHits: check.staleReads.filter((read) => read.hit).length,
      serviceStaleReads: delta('staleReads'),
      serviceStaleChecks: delta('staleChecks'),
      serviceStaleUnacknowledged: delta('staleUnacknowledged'),
      memory,
    };
  } finally {
    await stack.stop();
  }
}
