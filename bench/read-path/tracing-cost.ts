import autocannon from 'autocannon';
import { BENCH_BOOK } from '../../service/src/http/bench-routes';
import { type BenchServers, postBook } from '../servers';

export interface TracingRun {
  tracing: 'default' | 'off';
  requestsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
}

/**
 * Cached reads (GET /books/:id, a local hit) on two replica processes, one with the default
 * telemetry settings (reads sampled, writes always), one with OTEL_SDK_DISABLED=true: autocannon
 * alternates between them `repeats` times each, so both see the same machine.
 */
export async function tracingCostBench(
  servers: BenchServers,
  options: { repeats: number; seconds: number; connections: number },
): Promise<TracingRun[]> {
  const replicas = {
    default: await servers.replica('bench-traced', { BENCH_ROUTES: '1' }),
    off: await servers.replica('bench-untraced', { BENCH_ROUTES: '1', OTEL_SDK_DISABLED: 'true' }),
  };
  try {
    const { id } = await postBook(replicas.default.url, { ...BENCH_BOOK, name: `${BENCH_BOOK.name} (tracing)` });
    const runs: TracingRun[] = [];
    for (let i = 0; i < options.repeats; i += 1) {
      for (const tracing of ['default', 'off'] as const) {
        const url = `${replicas[tracing].url}/books/${id}`;
        for (let warm = 0; warm < 2; warm += 1) await fetch(url);
        const check = await fetch(url);
        if (check.headers.get('x-cache') !== 'HIT') throw new Error(`tracing ${tracing}: the read is not a cache hit`);
        const result = await autocannon({ url, connections: options.connections, duration: options.seconds });
        if (result.non2xx > 0 || result.errors > 0) throw new Error(`tracing ${tracing}: ${result.non2xx} non-2xx`);
        runs.push({
          tracing,
          requestsPerSecond: result.requests.average,
          p50Ms: result.latency.p50,
          p99Ms: result.latency.p99,
        });
      }
    }
    return runs;
  } finally {
    await replicas.default.stop();
    await replicas.off.stop();
  }
}
