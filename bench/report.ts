import { cpus, totalmem } from 'node:os';
import { type BenchResults, isSustained } from './run';

const ms = (v: number) => `${v.toFixed(2)} ms`;
const x = (v: number) => `${v.toFixed(2)}x`;
const int = (v: number) => Math.round(v).toLocaleString('en-US');
const verdict = (ok: boolean) => (ok ? 'met' : '**missed**');

export interface Headline {
  localOfBare: number;
  localOverRedis: number;
  localOverMongo: number;
  lagP99: number;
  floorP99: number;
  lagOverFloor: number;
  growth2to16: number;
  floorGrowth2to16: number;
  maxZeroLossRate: number;
  maxZeroLossRateUncoalesced: number;
}

export function headline(r: BenchResults): Headline {
  const rps = (path: string) => r.readPath.find((row) => row.path === path)?.requestsPerSecond ?? 0;
  const lagAt = (replicas: number, rate: number) =>
    r.lag.find((l) => l.replicas === replicas && l.rate === rate)?.p99Ms ?? Number.NaN;
  const floorAt = (receivers: number, rate: number) =>
    r.floor.find((f) => f.receivers === receivers && f.rate === rate)?.p99Ms ?? Number.NaN;
  const floorP99 = floorAt(4, 1000);
  const best = (coalesce: boolean) =>
    Math.max(0, ...r.throughput.filter((t) => t.coalesce === coalesce && isSustained(t)).map((t) => t.rate));
  const [fewest, most] = [Math.min(...r.plan.replicaCounts), Math.max(...r.plan.replicaCounts)];
  return {
    localOfBare: rps('local cache') / rps('bare Koa (constant)'),
    localOverRedis: rps('local cache') / rps('Redis global cache'),
    localOverMongo: rps('local cache') / rps('MongoDB direct'),
    lagP99: lagAt(4, 1000),
    floorP99,
    lagOverFloor: lagAt(4, 1000) / floorP99,
    growth2to16: lagAt(most, 1000) / lagAt(fewest, 1000),
    floorGrowth2to16: floorAt(most, 1000) / floorAt(fewest, 1000),
    maxZeroLossRate: best(true),
    maxZeroLossRateUncoalesced: best(false),
  };
}

/**
 * The reading of the targets, written from this run's numbers (never by hand, so it cannot drift
 * from the tables below it).
 */
export function analysisMarkdown(r: BenchResults): string {
  const h = headline(r);
  const cost = (source: string) => r.readCost.find((c) => c.source === source)?.microsPerRead ?? Number.NaN;
  const [local, redis, mongo] = [cost('local cache'), cost('Redis global cache'), cost('MongoDB')];
  const [fewest, most] = [Math.min(...r.plan.replicaCounts), Math.max(...r.plan.replicaCounts)];
  const lagAt = (replicas: number) => r.lag.find((l) => l.replicas === replicas && l.rate === 1000);
  const floorAt = (receivers: number) => r.floor.find((f) => f.receivers === receivers && f.rate === 1000);
  const mostLag = lagAt(most);
  const mostFloor = floorAt(most);
  const lost = r.lag.reduce((n, l) => n + l.lost + l.missed, 0);
  const lines = ['## Reading the targets', ''];
  if (h.localOverRedis < 3 || h.localOverMongo < 5) {
    lines.push(
      `- **Requests per second through HTTP (local ${x(h.localOverRedis)} Redis, ${x(h.localOverMongo)} MongoDB).** ` +
        `Every path pays the same HTTP, Koa and tracing cost per request, and on ${cpus().length} shared cores that cost, ` +
        `not the read, bounds throughput (\`make bench-profile\` shows where the replica's CPU goes). ` +
        `Read one at a time inside a process, the sources differ by orders of magnitude: ${local.toFixed(2)} µs for a local hit, ` +
        `${redis.toFixed(0)} µs for a Redis GET and parse (${x(redis / local)}), ${mongo.toFixed(0)} µs for a MongoDB read (${x(mongo / local)}). ` +
        "So the local cache saves latency and the database's and Redis' capacity; the HTTP throughput ratio is bounded by the request path.",
    );
  }
  if (h.growth2to16 > 4) {
    const atMost =
      mostLag && mostFloor
        ? `, and at ${most} replicas the service's p99 is ${x(mostLag.p99Ms / mostFloor.p99Ms)} the floor's`
        : '';
    lines.push(
      `- **Lag p99 from ${fewest} to ${most} replicas (${x(h.growth2to16)}).** The raw floor, bare subscriber processes doing nothing else, ` +
        `grows ${x(h.floorGrowth2to16)} over the same range${atMost}. ` +
        (h.floorGrowth2to16 >= h.growth2to16
          ? `${most} receiving processes on ${cpus().length} cores wait for a core: the bound is cores per receiver on this machine, not Redis or the sync path.`
          : `The service grows faster than the floor: with ${most} receivers on ${cpus().length} cores, each message's own receive work (parse, verify, validate, span, metrics) queues behind the others'.`),
    );
  }
  if (h.lagOverFloor > 2) {
    lines.push(
      `- **Lag p99 at 4 replicas and 1,000/s is ${x(h.lagOverFloor)} the raw floor.** The per-message receive path (parse, validate, span, metrics) costs more than the bare subscriber's.`,
    );
  }
  lines.push(
    `- Across every lag step: ${lost === 0 ? 'no message lost and no gap' : `${lost} messages lost or missed`}. ` +
      `Zero-loss throughput: ${int(h.maxZeroLossRate)}/s coalesced, ${int(h.maxZeroLossRateUncoalesced)}/s with one message a write.`,
  );
  return lines.join('\n');
}

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor((sorted.length - 1) / 2)] ?? Number.NaN;
};

/** One table row comparing runs of two kinds (interleaved): each kind's median and range, and their ratio. */
function comparedRow<T>(what: string, a: T[], b: T[], pick: (run: T) => number, format = ms): string {
  const range = (v: number[]) => `${format(Math.min(...v))} to ${format(Math.max(...v))}`;
  const [va, vb] = [a.map(pick), b.map(pick)];
  // autocannon reports whole milliseconds: a median of 0 has no ratio.
  const ratio = median(vb) > 0 ? x(median(va) / median(vb)) : 'n/a';
  return `| ${what} | ${format(median(va))} (${range(va)}) | ${format(median(vb))} (${range(vb)}) | ${ratio} |`;
}

/** What signing costs: per message, and in lag against the same run unsigned (interleaved, median and spread). */
function signingMarkdown(r: BenchResults): string[] {
  const { cost, lag } = r.signing;
  const [on, off] = [lag.filter((l) => l.signed), lag.filter((l) => !l.signed)];
  const line = (what: string, pick: (l: (typeof lag)[number]) => number) => comparedRow(what, on, off, pick);
  return [
    `## Signing: HMAC-SHA256 on every message`,
    '',
    `Per message of ${cost.messageBytes} bytes: sign ${(cost.signNs / 1000).toFixed(2)} µs, verify ${(cost.verifyNs / 1000).toFixed(2)} µs. Lag with ${r.plan.throughputReplicas} replicas at ${int(r.plan.signingRate)}/s, signed and unsigned runs interleaved, ${r.plan.signingRepeats} of each (median, and the range):`,
    '',
    '| | signed | unsigned | signed / unsigned |',
    '|---|---|---|---|',
    line('lag p50', (l) => l.p50Ms),
    line('lag p99', (l) => l.p99Ms),
    '',
  ];
}

/** Sharded Pub/Sub on a Cluster against PUBLISH on one server (interleaved, median and spread), and the 2x target. */
function topologyMarkdown(r: BenchResults): string[] {
  type Run = BenchResults['topologies'][number];
  const of = (topology: Run['topology']) => r.topologies.filter((l) => l.topology === topology);
  const line = (what: string, pick: (l: Run) => number) => comparedRow(what, of('cluster'), of('standalone'), pick);
  const p99 = median(of('cluster').map((l) => l.p99Ms)) / median(of('standalone').map((l) => l.p99Ms));
  const lost = r.topologies.reduce((n, l) => n + l.lost + l.missed, 0);
  return [
    '## Redis Cluster: sharded Pub/Sub against one server',
    '',
    `Lag with ${r.plan.throughputReplicas} replicas at ${int(r.plan.signingRate)}/s on a 6-node Redis Cluster (SPUBLISH to the master of the channel's slot, replicas SSUBSCRIBEd there) and on the standalone server (PUBLISH), runs interleaved, ${r.plan.topologyRepeats} of each (median, and the range):`,
    '',
    '| | Cluster (SPUBLISH) | standalone (PUBLISH) | Cluster / standalone |',
    '|---|---|---|---|',
    line('lag p50', (l) => l.p50Ms),
    line('lag p99', (l) => l.p99Ms),
    '',
    `- Target: SPUBLISH lag p99 within 2x of standalone: ${x(p99)}, ${p99 <= 2 ? 'met' : 'missed'}. ${lost === 0 ? 'Nothing lost or missed' : `${lost} messages lost or missed`} in these runs.`,
    '',
  ];
}

/** A local hit alone and with the replica's metrics observer, interleaved, and the 2x target. */
function hitPathMarkdown(r: BenchResults): string[] {
  const { bareNs, withMetricsNs } = r.hitPath;
  const share = median(withMetricsNs) / median(bareNs);
  const cell = (v: number[]) =>
    `${median(v).toFixed(1)} ns (${Math.min(...v).toFixed(1)} to ${Math.max(...v).toFixed(1)})`;
  return [
    '## The hit path with metrics',
    '',
    `LocalCache.get of a cached book, ${int(r.plan.hitRounds)} gets a run, alone and with the replica's cache observer (hits and misses counted for cache_gets_total), ${r.plan.hitRepeats} runs each, interleaved (median, and the range): alone ${cell(bareNs)}, with metrics ${cell(withMetricsNs)}.`,
    '',
    `- Target: the hit path with metrics at most 2x the bare get: ${x(share)}, ${share <= 2 ? 'met' : 'missed'}.`,
    '',
  ];
}

/** Cached reads with the default telemetry settings against the same build with tracing off, and the 0.9x target. */
function tracingMarkdown(r: BenchResults): string[] {
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

/** bench/RESULTS.md: the date, the machine, the command, the tables, the targets and their reading. */
export function resultsMarkdown(r: BenchResults): string {
  const h = headline(r);
  const analysis = analysisMarkdown(r);
  const lines = [
    '# Benchmark results',
    '',
    `Run ${r.date} with \`make bench\` on ${cpus().length} cores (${cpus()[0]?.model ?? 'unknown CPU'}), ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}, redis-server from Debian, ${r.mongoKind}. Load generator, servers and replicas share the machine, so every number is a ratio within this one run.`,
    '',
    '## Targets',
    '',
    '| target | measured | |',
    '|---|---|---|',
    `| local hit ≥ 0.85 × bare Koa req/s | ${x(h.localOfBare)} | ${verdict(h.localOfBare >= 0.85)} |`,
    `| local hit ≥ 3 × Redis global cache req/s | ${x(h.localOverRedis)} | ${verdict(h.localOverRedis >= 3)} |`,
    `| local hit ≥ 5 × MongoDB direct req/s | ${x(h.localOverMongo)} | ${verdict(h.localOverMongo >= 5)} |`,
    `| lag p99 ≤ 2 × raw PUBLISH p99 (1,000/s, 4 replicas vs 4 bare subscriber processes) | ${ms(h.lagP99)} vs ${ms(h.floorP99)}: ${x(h.lagOverFloor)} | ${verdict(h.lagOverFloor <= 2)} |`,
    `| lag p99 growth from ${Math.min(...r.plan.replicaCounts)} to ${Math.max(...r.plan.replicaCounts)} replicas ≤ 4 × (1,000/s) | ${x(h.growth2to16)} (the raw floor's own growth: ${x(h.floorGrowth2to16)}) | ${verdict(h.growth2to16 <= 4)} |`,
    `| ≥ 20,000 invalidations/s sustained with zero loss (${r.plan.throughputReplicas} replicas) | ${int(h.maxZeroLossRate)}/s coalesced, ${int(h.maxZeroLossRateUncoalesced)}/s one message a write | ${verdict(h.maxZeroLossRate >= 20_000)} |`,
    '',
    analysis,
    '',
    `## Read path: GET /books/:id, autocannon, ${r.plan.connections} connections, ${r.plan.readSeconds} s each`,
    '',
    '| served from | req/s | p50 | p99 | of bare Koa |',
    '|---|---|---|---|---|',
    ...r.readPath.map(
      (row) => `| ${row.path} | ${int(row.requestsPerSecond)} | ${row.p50Ms} ms | ${row.p99Ms} ms | ${x(row.ofBare)} |`,
    ),
    '',
    'The same three sources read one at a time inside a process (no HTTP, no Koa, no tracing):',
    '',
    '| source | µs per read | of a local cache read |',
    '|---|---|---|',
    ...r.readCost.map(
      (c) =>
        `| ${c.source} | ${c.microsPerRead < 1 ? c.microsPerRead.toFixed(3) : c.microsPerRead.toFixed(1)} | ${x(c.microsPerRead / r.readCost[0]!.microsPerRead)} |`,
    ),
    '',
    `## Invalidation lag: publish to eviction applied, exact per message (${r.plan.stepSeconds} s a step)`,
    '',
    "The floor is a raw PUBLISH from the bench process to as many bare subscriber processes (plain ioredis, nothing else) as there are replicas; the service rows are the same Redis, the service's publisher (envelope v1, coalesced per event-loop turn) and real replica processes that validate, evict, trace, count and record each lag.",
    '',
    '| receivers | writes/s | achieved/s | messages | floor p50 | floor p99 | p50 | p99 | max | p99 / floor p99 | missed | lost |',
    '|---|---|---|---|---|---|---|---|---|---|---|---|',
    ...r.lag.map((l) => {
      const f = r.floor.find((row) => row.receivers === l.replicas && row.rate === l.rate);
      return `| ${l.replicas} | ${int(l.rate)} | ${int(l.achievedRate)} | ${int(l.messages)} | ${f ? ms(f.p50Ms) : '-'} | ${f ? ms(f.p99Ms) : '-'} | ${ms(l.p50Ms)} | ${ms(l.p99Ms)} | ${ms(l.maxMs)} | ${f ? x(l.p99Ms / f.p99Ms) : '-'} | ${l.missed} | ${l.lost} |`;
    }),
    '',
    `## Invalidation throughput: ${r.plan.throughputReplicas} replicas, rising rate until it is not sustained`,
    '',
    'Sustained: nothing lost or missed, the publisher sent at least 95 % of the rate asked, and the p99 lag stayed under a second (above that the replicas are building a backlog).',
    '',
    '| publishing | writes/s asked | achieved/s | messages | p99 lag | missed | lost | sustained |',
    '|---|---|---|---|---|---|---|---|',
    ...r.throughput.map(
      (t) =>
        `| ${t.coalesce ? 'coalesced' : 'one message a write'} | ${int(t.rate)} | ${int(t.achievedRate)} | ${int(t.messages)} | ${ms(t.p99Ms)} | ${t.missed} | ${t.lost} | ${isSustained(t) ? 'yes' : 'no'} |`,
    ),
    '',
    ...signingMarkdown(r),
    ...topologyMarkdown(r),
    ...tracingMarkdown(r),
    ...hitPathMarkdown(r),
    `## Memory at ${int(r.memory.entries)} entries`,
    '',
    `- ${int(r.memory.bookBytesPerEntry)} bytes of heap per book object, plus ${int(r.memory.cacheBytesPerEntry)} bytes per entry for the cache to hold it (key string, node-cache's wrapper, the write-order map): ${int(r.memory.bookBytesPerEntry + r.memory.cacheBytesPerEntry)} bytes per cached book, ${((r.memory.entries * (r.memory.bookBytesPerEntry + r.memory.cacheBytesPerEntry)) / 2 ** 20).toFixed(0)} MiB for ${int(r.memory.entries)}.`,
    `- Max keys holds: after ${int(r.memory.entries / 5)} more distinct keys than CACHE_MAX_KEYS (${int(r.memory.entries)}), the cache holds ${int(r.memory.sizeAfterOverfill)} entries (${int(r.memory.capacityEvictions)} capacity evictions, oldest write first).`,
    '',
    '## node-cache clone setting',
    '',
    `- A get with \`useClones: true\` costs ${r.clone.clonedNsPerGet.toFixed(0)} ns, without ${r.clone.sharedNsPerGet.toFixed(1)} ns (${(r.clone.clonedNsPerGet / r.clone.sharedNsPerGet).toFixed(0)}x), a plain Map ${r.clone.mapNsPerGet.toFixed(1)} ns. The cache runs without clones and freezes its values.`,
    '',
  ];
  return lines.join('\n');
}
