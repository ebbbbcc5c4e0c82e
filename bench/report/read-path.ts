import { median, pairedRatios, type Spread, spread } from '../lag/lag-steps';
import type { BenchResults } from '../plan';
import { IN_ZONE_PATHS, type InZonePath } from '../read-path/in-zone';
import { loadsPerInvalidation } from '../read-path/miss-coalescing';
import { comparedRow, int, ms, p50s, p99s, ratioCell, x } from './format';

/** Nanoseconds per get over runs: the median, and the range. */
const nsCell = (v: number[]) =>
  `${median(v).toFixed(1)} ns (${Math.min(...v).toFixed(1)} to ${Math.max(...v).toFixed(1)})`;

/** A local hit alone and with the replica's metrics observer, interleaved, and the 2x target. */
export function hitPathMarkdown(r: BenchResults): string[] {
  const { bareNs, withMetricsNs } = r.hitPath;
  const share = median(withMetricsNs) / median(bareNs);
  return [
    '## The hit path with metrics',
    '',
    `LocalCache.get of a cached book, ${int(r.plan.hitRounds)} gets a run, alone and with the replica's cache observer (hits and misses counted for cache_gets_total), ${r.plan.hitRepeats} runs each, interleaved (median, and the range): alone ${nsCell(bareNs)}, with metrics ${nsCell(withMetricsNs)}.`,
    '',
    `- Target: the hit path with metrics at most 2x the bare get: ${x(share)}, ${share <= 2 ? 'met' : 'missed'}.`,
    '',
  ];
}

/** getOrLoad hits, plain, with tags and fail-safe, and with eager refresh too; the 1.05x targets. */
export function guardedHitMarkdown(r: BenchResults): string[] {
  if (!r.guardedHit) return [];
  const { plainNs, taggedNs = [], guardedNs } = r.guardedHit;
  const target = (name: string, ns: number[]) => {
    const share = median(ns) / median(plainNs);
    return `- Target: ${name} at most 1.05x the plain hit: ${x(share)}, ${share <= 1.05 ? 'met' : 'missed'}.`;
  };
  return [
    '## The hit path with tags, fail-safe, timeouts and eager refresh configured',
    '',
    `SyncedCache.getOrLoad hits of a cached book (awaited), ${int(r.plan.hitRounds)} a run, ${r.plan.hitRepeats} runs each, interleaved (median, and the range), on three synced caches: with defaults, plain ${nsCell(plainNs)}; with tags (the entry and every call carry two), fail-safe (grace 1 h) and soft and hard timeouts (100 ms, 1 s), tagged ${nsCell(taggedNs)}; the same and eager refresh (at 0.9 of the TTL: every hit checks the entry's age, on a coarse clock), ${nsCell(guardedNs)}.`,
    '',
    ...(taggedNs.length > 0 ? [target('the tagged hit with fail-safe', taggedNs)] : []),
    target('the hit with eager refresh too', guardedNs),
    '',
  ];
}

/** Cached reads with the default telemetry settings against the same build with tracing off, and the 0.9x target. */
export function tracingMarkdown(r: BenchResults): string[] {
  const [on, off] = [r.tracing.filter((t) => t.tracing === 'default'), r.tracing.filter((t) => t.tracing === 'off')];
  const rps = (runs: typeof on) => runs.map((t) => t.requestsPerSecond);
  const share = median(rps(on)) / median(rps(off));
  return [
    '## Tracing on the read path',
    '',
    `Cached reads (GET /books/:id, a local hit) at ${r.plan.connections} connections on two replica processes, one with the default telemetry settings (writes and invalidations always traced, reads sampled by OTEL_TRACES_SAMPLER, default parent-based 5 %; a SERVER span only for a traced request, no HTTP or Koa instrumentation), one with OTEL_SDK_DISABLED=true (nothing patched); runs of ${r.plan.tracingSeconds} s alternated, ${r.plan.tracingRepeats} of each (median, and the range):`,
    '',
    '| | default telemetry | tracing off | default / off |',
    '|---|---|---|---|',
    comparedRow('requests/s', on, off, (t) => t.requestsPerSecond, int),
    comparedRow('latency p50', on, off, (t) => t.p50Ms),
    comparedRow('latency p99', on, off, (t) => t.p99Ms),
    '',
    `- Target: cached reads with default telemetry at least 0.9x the requests/s with tracing off: ${x(share)}, ${share >= 0.9 ? 'met' : 'missed'}.`,
    '',
  ];
}

/** The read path with a network between the replica and its servers, and the 0.5x target. */
export function inZoneMarkdown(r: BenchResults): string[] {
  const z = r.inZone;
  if (!z) return [];
  const of = (path: InZonePath) => z.runs.filter((run) => run.path === path);
  const cell = (values: number[], format: (v: number) => string) => {
    const v = spread(values);
    return `${format(v.median)} (${format(v.min)} to ${format(v.max)})`;
  };
  const local = of('local cache');
  const vsRedis = pairedRatios(p50s(local), p50s(of('Redis global cache')));
  return [
    '## Read path with a network: Redis and MongoDB behind Toxiproxy',
    '',
    `Redis and MongoDB reached through Toxiproxy with a latency toxic of ${z.toxicMs} ms on every response (Toxiproxy's latency is whole milliseconds, so this is ${z.toxicMs} ms where an in-zone round trip is about 0.25 ms): Redis PING ${ms(z.pingProxiedMs)} through it against ${ms(z.pingDirectMs)} on loopback. Latency at a fixed offered load of ${int(z.offeredRate)} requests/s (open loop, each request timed), requests/s at ${r.plan.connections} connections (autocannon), ${r.plan.inZone.seconds} s each, the sources interleaved, ${r.plan.inZone.repeats} runs each (median, and the range):`,
    '',
    '| served from | p50 | p99 | requests/s | p50 / local p50 |',
    '|---|---|---|---|---|',
    ...IN_ZONE_PATHS.map(
      (path) =>
        `| ${path} | ${cell(p50s(of(path)), ms)} | ${cell(p99s(of(path)), ms)} | ${cell(
          of(path).map((run) => run.requestsPerSecond),
          int,
        )} | ${ratioCell(pairedRatios(p50s(of(path)), p50s(local)))} |`,
    ),
    '',
    `- Target: a local hit's p50 at most 0.5x a Redis global cache read's: ${x(vsRedis.median)} (${x(vsRedis.min)} to ${x(vsRedis.max)}), ${vsRedis.median <= 0.5 ? 'met' : 'missed'}.`,
    '',
  ];
}

/** Database reads per invalidation of a hot key, with and without the library's miss coalescing. */
export function coalescingMarkdown(r: BenchResults): string[] {
  const runs = r.coalescing;
  if (!runs || runs.length === 0) return [];
  const on = runs.filter((run) => run.coalesce);
  const off = runs.filter((run) => !run.coalesce);
  const perWrite = (group: typeof runs) => spread(group.map(loadsPerInvalidation));
  const [a, b] = [perWrite(on), perWrite(off)];
  const cell = (v: Spread) => `${v.median.toFixed(1)} (${v.min.toFixed(1)} to ${v.max.toFixed(1)})`;
  const { replicas, readRate, seconds } = r.plan.coalescing;
  const row = (name: string, group: typeof runs, v: Spread) =>
    `| ${name} | ${cell(v)} | ${int(median(group.map((run) => run.loads)))} | ${int(median(group.map((run) => run.coalesced)))} | ${int(median(group.map((run) => run.writes)))} | ${int(median(group.map((run) => run.reads)))} | ${group.reduce((n, run) => n + run.readErrors, 0)} |`;
  return [
    `## Miss coalescing: one hot book, ${replicas} replicas, ${readRate} reads/s each, rewritten every second`,
    '',
    `Each run reads one book through every replica for ${seconds} s and rewrites it once a second through the first; every write evicts it everywhere, and the reads that arrive before the next fill miss. Database reads are the replicas' \`cache_loads_total\`; ${on.length} runs each, alternating.`,
    '',
    '| getOrLoad | MongoDB reads per invalidation (median, range) | MongoDB reads | misses that waited instead | writes | reads served | read errors |',
    '|---|---|---|---|---|---|---|',
    row('coalesced (CACHE_COALESCE_LOADS=1)', on, a),
    row('every miss reads (CACHE_COALESCE_LOADS=0)', off, b),
    '',
    `With coalescing a write costs ${a.median.toFixed(1)} MongoDB reads across the ${replicas} replicas (at best one per replica, ${replicas}: misses that arrive after an invalidation overtook a load start their own); without it, ${b.median.toFixed(1)}: every read that arrives while the first miss is still reading MongoDB reads it too, ${b.median > 0 && a.median > 0 ? x(b.median / a.median) : 'n/a'} as many.`,
    '',
  ];
}
