import { scrapeMetric } from '../../service/local-stack/stack';
import { paced } from '../lag/latency';
import { type BenchServers, postBook } from '../servers';

export interface CoalescingRun {
  coalesce: boolean;
  replicas: number;
  /** Reads per second sent to each replica, and seconds of traffic. */
  readRate: number;
  seconds: number;
  reads: number;
  /** Reads that failed (not 200): they would skew the counts, so a run with any is suspect. */
  readErrors: number;
  /** Writes of the hot book (one a second, each an invalidation on every other replica). */
  writes: number;
  /** MongoDB reads by the cache, summed over the replicas (cache_loads_total). */
  loads: number;
  /** Misses that waited for another's load instead (cache_loads_coalesced_total). */
  coalesced: number;
}

export interface CoalescingPlan {
  replicas: number;
  readRate: number;
  seconds: number;
  repeats: number;
}

const sum = async (urls: string[], name: string) =>
  (await Promise.all(urls.map((url) => scrapeMetric(url, name, { cache: 'book' })))).reduce((a, b) => a + b, 0);

/**
 * One hot book, read by every replica at a steady rate and rewritten once a second through the
 * first replica: how many MongoDB reads each invalidation costs, with the library's miss
 * coalescing (CACHE_COALESCE_LOADS=1) and without (every concurrent miss reads). The two
 * deployments run on their own channels and databases, one after the other, `repeats` times.
 */
export async function coalescingBench(servers: BenchServers, plan: CoalescingPlan): Promise<CoalescingRun[]> {
  const deployments = [];
  for (const coalesce of [true, false]) {
    const env = {
      CACHE_COALESCE_LOADS: coalesce ? '1' : '0',
      INVALIDATION_CHANNEL: `${servers.channel}-coalesce-${coalesce ? 1 : 0}`,
      MONGODB_URI: `${servers.mongoUri}-coalesce-${coalesce ? 1 : 0}`,
    };
    const replicas = [];
    for (let i = 1; i <= plan.replicas; i += 1) {
      replicas.push(await servers.replica(`coalesce-${coalesce ? 'on' : 'off'}-${i}`, env));
    }
    const book = await postBook(replicas[0]!.url, { name: `hot ${coalesce}`, author: 'bench', year: 2000 });
    deployments.push({ coalesce, urls: replicas.map((r) => r.url), book, replicas });
  }
  const runs: CoalescingRun[] = [];
  try {
    for (let round = 0; round < plan.repeats; round += 1) {
      for (const { coalesce, urls, book } of deployments) {
        // Every replica holds the book before the clock starts: only invalidations cause loads.
        for (const url of urls) await (await fetch(`${url}/books/${book.id}`)).arrayBuffer();
        const before = {
          loads: await sum(urls, 'cache_loads_total'),
          coalesced: await sum(urls, 'cache_loads_coalesced_total'),
        };
        let reads = 0;
        let readErrors = 0;
        let writes = 0;
        let sent = 0;
        const inFlight: Promise<unknown>[] = [];
        const read = (url: string) =>
          fetch(`${url}/books/${book.id}`).then(
            async (response) => {
              await response.arrayBuffer();
              if (response.status === 200) reads += 1;
              else readErrors += 1;
            },
            () => {
              readErrors += 1;
            },
          );
        const writer = setInterval(() => {
          inFlight.push(
            fetch(`${urls[0]}/books/${book.id}`, {
              method: 'PATCH',
              headers: { 'content-type': 'application/json' },
              body: JSON.stringify({ year: 2000 + writes }),
            }).then(async (response) => {
              await response.arrayBuffer();
              if (response.status === 200) writes += 1;
            }),
          );
        }, 1000);
        await paced(plan.readRate * urls.length, plan.seconds, (due) => {
          for (let i = 0; i < due; i += 1) inFlight.push(read(urls[sent++ % urls.length]!));
        });
        clearInterval(writer);
        await Promise.allSettled(inFlight);
        runs.push({
          coalesce,
          replicas: urls.length,
          readRate: plan.readRate,
          seconds: plan.seconds,
          reads,
          readErrors,
          writes,
          loads: (await sum(urls, 'cache_loads_total')) - before.loads,
          coalesced: (await sum(urls, 'cache_loads_coalesced_total')) - before.coalesced,
        });
      }
    }
  } finally {
    for (const { replicas } of deployments) await Promise.all(replicas.map((r) => r.stop()));
  }
  return runs;
}

/** MongoDB reads per invalidation of a run (writes of the hot book). */
export const loadsPerInvalidation = (run: CoalescingRun) => (run.writes > 0 ? run.loads / run.writes : 0);
