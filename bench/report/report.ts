import { cpus, totalmem } from 'node:os';
import type { LatencyStats } from '../lag/lag-bench';
import { type LagStep, lagSteps, median, pairedRatios, type Spread, spread } from '../lag/lag-steps';
import { PEER_NAMES, PEER_SYSTEMS, type PeerSystem } from '../lag/peer-lag';
import { OUR_SYSTEMS, type OurSystem, SIDE_SYSTEMS, type SideRun, type SideSystem } from '../lag/side-by-side';
import { IN_ZONE_PATHS, type InZonePath } from '../read-path/in-zone';
import { loadsPerInvalidation } from '../read-path/miss-coalescing';
import { RECEIVE_PARTS } from '../receive/receive-profile';
import { type BenchResults, isSustained, LAG_VARIANTS, type LagVariant } from '../suite';

const ms = (v: number) => `${v.toFixed(2)} ms`;
const x = (v: number) => (Number.isFinite(v) ? `${v.toFixed(2)}x` : 'n/a');
const int = (v: number) => Math.round(v).toLocaleString('en-US');
const verdict = (ok: boolean) => (ok ? 'met' : '**missed**');

export interface Headline {
  /** Requests/s ratios through HTTP, median of the paired runs, and their range. */
  localOfBare: Spread;
  localOverRedis: Spread;
  localOverMongo: Spread;
  /** The rate the lag targets are read at (1,000/s in the full plan). */
  lagRate: number;
  lagP99: number;
  floorP99: number;
  lagOverFloor: number;
  growth2to16: number;
  floorGrowth2to16: number;
  /** The worst step at `lagRate` over every receivers count: the service's lag over the floor's (median of paired runs). */
  worstOverFloor: { p50: WorstStep; p99: WorstStep };
  /** The same against each peer: the service's lag over the peer's. */
  worstOverPeer: Record<PeerSystem, { p50: WorstStep; p99: WorstStep }>;
  maxZeroLossRate: number;
  maxZeroLossRateUncoalesced: number;
}

export interface WorstStep extends Spread {
  receivers: number;
}

const p50s = (runs: { p50Ms: number }[]) => runs.map((run) => run.p50Ms);
const p99s = (runs: { p99Ms: number }[]) => runs.map((run) => run.p99Ms);

/** The step whose median paired ratio is highest. */
function worst(steps: LagStep[], ratio: (step: LagStep) => Spread): WorstStep {
  const rows = steps.map((step) => ({ ...ratio(step), receivers: step.receivers }));
  return rows.reduce((a, b) => (b.median > a.median ? b : a), rows[0] ?? { ...spread([]), receivers: 0 });
}

export function headline(r: BenchResults): Headline {
  const rps = (path: string) => r.readPath.filter((row) => row.path === path).map((row) => row.requestsPerSecond);
  const readRatio = (path: string) => pairedRatios(rps('local cache'), rps(path));
  const lagRate = r.plan.rates.includes(1000) ? 1000 : r.plan.rates[0]!;
  const steps = lagSteps(r).filter((step) => step.rate === lagRate);
  const [fewest, most] = [Math.min(...r.plan.replicaCounts), Math.max(...r.plan.replicaCounts)];
  const at = (receivers: number) => steps.find((step) => step.receivers === receivers);
  const reference = at(4) ?? at(fewest);
  const p99Of = (runs: { p99Ms: number }[] | undefined) => median(p99s(runs ?? []));
  const best = (coalesce: boolean) =>
    Math.max(0, ...r.throughput.filter((t) => t.coalesce === coalesce && isSustained(t)).map((t) => t.rate));
  const overPeer = (system: PeerSystem) => ({
    p50: worst(steps, (step) => pairedRatios(p50s(step.service), p50s(step.peers[system]))),
    p99: worst(steps, (step) => pairedRatios(p99s(step.service), p99s(step.peers[system]))),
  });
  return {
    localOfBare: readRatio('bare Koa (constant)'),
    localOverRedis: readRatio('Redis global cache'),
    localOverMongo: readRatio('MongoDB direct'),
    lagRate,
    lagP99: p99Of(reference?.service),
    floorP99: p99Of(reference?.floor),
    lagOverFloor: reference ? pairedRatios(p99s(reference.service), p99s(reference.floor)).median : Number.NaN,
    growth2to16: p99Of(at(most)?.service) / p99Of(at(fewest)?.service),
    floorGrowth2to16: p99Of(at(most)?.floor) / p99Of(at(fewest)?.floor),
    worstOverFloor: {
      p50: worst(steps, (step) => pairedRatios(p50s(step.service), p50s(step.floor))),
      p99: worst(steps, (step) => pairedRatios(p99s(step.service), p99s(step.floor))),
    },
    worstOverPeer: Object.fromEntries(
      PEER_SYSTEMS.map((system) => [system, overPeer(system)]),
    ) as Headline['worstOverPeer'],
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
  const mostStep = lagSteps(r).find((step) => step.receivers === most && step.rate === h.lagRate);
  const mostOverFloor = mostStep ? pairedRatios(p99s(mostStep.service), p99s(mostStep.floor)).median : Number.NaN;
  const lost = r.lag.reduce((n, l) => n + l.lost + l.missed, 0);
  const lines = ['## Reading the targets', ''];
  if (h.localOverRedis.median < 3 || h.localOverMongo.median < 5) {
    lines.push(
      `- **Requests per second through HTTP (local ${x(h.localOverRedis.median)} Redis, ${x(h.localOverMongo.median)} MongoDB).** ` +
        `Every path pays the same HTTP, Koa and tracing cost per request, and on ${cpus().length} shared cores that cost, ` +
        `not the read, bounds throughput (\`make bench-profile\` shows where the replica's CPU goes). ` +
        `Read one at a time inside a process, the sources differ by orders of magnitude: ${local.toFixed(2)} µs for a local hit, ` +
        `${redis.toFixed(0)} µs for a Redis GET and parse (${x(redis / local)}), ${mongo.toFixed(0)} µs for a MongoDB read (${x(mongo / local)}). ` +
        "So the local cache saves latency and the database's and Redis' capacity; the HTTP throughput ratio is bounded by the request path.",
    );
  }
  if (h.growth2to16 > 4) {
    const atMost = mostStep ? `, and at ${most} replicas the service's p99 is ${x(mostOverFloor)} the floor's` : '';
    lines.push(
      `- **Lag p99 from ${fewest} to ${most} replicas (${x(h.growth2to16)}).** The raw floor, bare subscriber processes doing nothing else, ` +
        `grows ${x(h.floorGrowth2to16)} over the same range${atMost}. ` +
        (h.floorGrowth2to16 >= h.growth2to16
          ? `${most} receiving processes on ${cpus().length} cores wait for a core: the bound is cores per receiver on this machine, not Redis or the sync path.`
          : `The service grows faster than the floor: with ${most} receivers on ${cpus().length} cores, each message's own receive work (parse, verify, validate, span, metrics) queues behind the others'.`),
    );
  }
  const { p50, p99 } = h.worstOverFloor;
  if (p50.median > 1.5 || p99.median > 1.5) {
    lines.push(
      `- **Lag against the raw floor at ${int(h.lagRate)}/s: p50 up to ${x(p50.median)} (${p50.receivers} replicas), p99 up to ${x(p99.median)} (${p99.receivers} replicas).** ` +
        'The floor receives a bare string; a replica parses, verifies the signature, validates, checks the sequence, evicts and counts, on the same cores as the publisher and the other receivers (`make bench-profile` profiles a replica).',
    );
  }
  const behind = PEER_SYSTEMS.filter((system) => {
    const w = h.worstOverPeer[system];
    return w.p50.median > 1 || w.p99.median > 1;
  });
  for (const system of behind) {
    const w = h.worstOverPeer[system];
    lines.push(
      `- **Against ${PEER_NAMES[system]} at ${int(h.lagRate)}/s: the service's p50 up to ${x(w.p50.median)} the peer's (${w.p50.receivers} receivers), p99 up to ${x(w.p99.median)} (${w.p99.receivers} receivers).** ` +
        (system === 'bentocache'
          ? "BentoCache's bus message is a few bytes of binary keys, unsigned, with no sequence numbers, so it cannot tell a lost message; its L1 delete is all a receiver does."
          : 'Client-side caching sends the key name in a RESP3 push from Redis itself, with no message of its own to parse and no way to count a lost one.'),
    );
  }
  lines.push(
    `- Across every lag step: ${lost === 0 ? 'no message lost and no gap' : `${lost} messages lost or missed`}. ` +
      `Zero-loss throughput: ${int(h.maxZeroLossRate)}/s coalesced, ${int(h.maxZeroLossRateUncoalesced)}/s with one message a write.`,
  );
  return lines.join('\n');
}

/** One table row comparing runs of two kinds (interleaved): each kind's median and range, and their ratio. */
function comparedRow<T>(what: string, a: T[], b: T[], pick: (run: T) => number, format = ms): string {
  const range = (v: number[]) => `${format(Math.min(...v))} to ${format(Math.max(...v))}`;
  const [va, vb] = [a.map(pick), b.map(pick)];
  // autocannon reports whole milliseconds: a median of 0 has no ratio.
  const ratio = median(vb) > 0 ? x(median(va) / median(vb)) : 'n/a';
  return `| ${what} | ${format(median(va))} (${range(va)}) | ${format(median(vb))} (${range(vb)}) | ${ratio} |`;
}

/** Where the lag above the floor goes: replicas signed, unsigned, unsigned without the tracing SDK. */
function breakdownMarkdown(r: BenchResults): string[] {
  const b = r.breakdown;
  if (!b) return [];
  const names: Record<LagVariant, string> = {
    signed: 'replicas as they run (signed, tracing SDK on)',
    unsigned: 'unsigned, tracing SDK on',
    bare: 'unsigned, tracing SDK off (OTEL_SDK_DISABLED)',
  };
  const row = (name: string, runs: { p50Ms: number; p99Ms: number }[]) =>
    `| ${name} | ${msMedian(p50s(runs))} | ${msMedian(p99s(runs))} | ${ratioCell(pairedRatios(p50s(runs), p50s(b.floor)))} | ${ratioCell(pairedRatios(p99s(runs), p99s(b.floor)))} |`;
  const of = (variant: LagVariant) => b.runs.filter((run) => run.variant === variant);
  return [
    '## Where the lag above the floor goes',
    '',
    `Lag with ${r.plan.throughputReplicas} replicas at ${int(r.plan.signingRate)}/s by what the replicas do, and the raw floor to ${r.plan.throughputReplicas} bare subscriber processes, interleaved, ${r.plan.signingRepeats} runs each (median; ratios to the floor of the paired runs, with their range). The bench's writer does not trace, so no replica makes a CONSUMER span either way; the SDK on is its context manager and instrumentations:`,
    '',
    '| receiving | p50 | p99 | p50 / floor | p99 / floor |',
    '|---|---|---|---|---|',
    row('raw PUBLISH floor (bare ioredis subscribers)', b.floor),
    ...LAG_VARIANTS.map((variant) => row(names[variant], of(variant))),
    '',
  ];
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

const ratioCell = (v: Spread) => `${x(v.median)} (${x(v.min)} to ${x(v.max)})`;
const msMedian = (values: number[]) => ms(median(values));

/** The lag tables: the service against the raw floor, and against the peers, every step the median of paired runs. */
function lagMarkdown(r: BenchResults): string[] {
  const steps = lagSteps(r);
  const sum = (runs: { lost: number }[]) => runs.reduce((n, run) => n + run.lost, 0);
  const repeats = r.plan.lagRepeats ?? 1;
  return [
    `## Invalidation lag: publish to eviction applied, exact per message (${r.plan.stepSeconds} s a step, ${repeats} runs each)`,
    '',
    `Each step runs the floor, the service and each peer back to back, ${repeats} times; a value is the median of the runs, a ratio the median of the paired runs' ratios with its range. The floor is a raw PUBLISH from the bench process to as many bare subscriber processes (plain ioredis, nothing else) as there are replicas; the service rows are the same Redis, the service's publisher (envelope v1, signed, coalescing the writes of one tick) and real replica processes that verify, validate, evict, count and record each lag (the bench's writer does not trace, so no CONSUMER span is made; a traced message's span costs what \`Receive path per message\` says).`,
    '',
    '| receivers | writes/s | messages | floor p50 | floor p99 | p50 | p99 | max | p50 / floor | p99 / floor | missed | lost |',
    '|---|---|---|---|---|---|---|---|---|---|---|---|',
    ...steps.map((step) => {
      const { service, floor } = step;
      return `| ${step.receivers} | ${int(step.rate)} | ${int(median(service.map((l) => l.messages)))} | ${msMedian(p50s(floor))} | ${msMedian(p99s(floor))} | ${msMedian(p50s(service))} | ${msMedian(p99s(service))} | ${msMedian(service.map((l) => l.maxMs))} | ${ratioCell(pairedRatios(p50s(service), p50s(floor)))} | ${ratioCell(pairedRatios(p99s(service), p99s(floor)))} | ${service.reduce((n, l) => n + l.missed, 0)} | ${sum(service)} |`;
    }),
    '',
    `### Against the peers: same Redis, same receivers count, same rates`,
    '',
    ...PEER_SYSTEMS.map((system) => `- ${PEER_NAMES[system]}: ${peerHow[system]}`),
    '',
    `| receivers | writes/s | p50 | ${PEER_SYSTEMS.map((s) => `${s} p50`).join(' | ')} | p99 | ${PEER_SYSTEMS.map((s) => `${s} p99`).join(' | ')} | ${PEER_SYSTEMS.map((s) => `p99 / ${s}`).join(' | ')} | ${PEER_SYSTEMS.map((s) => `${s} lost`).join(' | ')} |`,
    `|${'---|'.repeat(4 + PEER_SYSTEMS.length * 4)}`,
    ...steps.map((step) => {
      const { service, peers } = step;
      return `| ${step.receivers} | ${int(step.rate)} | ${msMedian(p50s(service))} | ${PEER_SYSTEMS.map((s) => msMedian(p50s(peers[s]))).join(' | ')} | ${msMedian(p99s(service))} | ${PEER_SYSTEMS.map((s) => msMedian(p99s(peers[s]))).join(' | ')} | ${PEER_SYSTEMS.map((s) => ratioCell(pairedRatios(p99s(service), p99s(peers[s])))).join(' | ')} | ${PEER_SYSTEMS.map((s) => sum(peers[s])).join(' | ')} |`;
    }),
    '',
  ];
}

const peerHow: Record<PeerSystem, string> = {
  bentocache:
    'the bench calls `delete` (L1, L2 and a bus message per key, its own encoding, not coalesced); each receiver process holds a BentoCache with the same stores and times its L1 delete (bench/peers/receiver.mjs).',
  'node-redis':
    'every key is cached by every receiver before the run; the bench SETs them in turn and Redis pushes an invalidation to each receiver, which times its cache eviction.',
};

/** The read path with a network between the replica and its servers, and the 0.5x target. */
function inZoneMarkdown(r: BenchResults): string[] {
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

/** Where a replica's time goes for each message, in process. */
function receiveMarkdown(r: BenchResults): string[] {
  const c = r.receive;
  if (!c) return [];
  const us = (v: number) => `${v.toFixed(2)} µs`;
  return [
    '## Receive path per message',
    '',
    `${int(r.plan.receiveRounds)} signed single invalidations (distinct ids) through the parts of a replica's receive path and through the whole InvalidationSubscriber with the replica's metrics observer, in this process: JSON.parse ${us(c.parse)}, HMAC verify ${us(c.verify)}, parse and validate ${us(c.validate)}; the whole handler ${us(c.handlerUntraced)} untraced, ${us(c.handlerTraced)} with its CONSUMER span (sampled, dropped at the end)${c.handlerUnsigned === undefined ? '' : `, ${us(c.handlerUnsigned)} unsigned and untraced`}. At 1,000 messages/s the traced handler takes ${((c.handlerTraced * 1000) / 10_000).toFixed(1)} % of a core per replica.`,
    '',
  ];
}

/** Database reads per invalidation of a hot key, with and without the library's miss coalescing. */
function coalescingMarkdown(r: BenchResults): string[] {
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

/** bench/RESULTS.md: the date, the machine, the command, the tables, the targets and their reading. */
export function resultsMarkdown(r: BenchResults): string {
  const h = headline(r);
  const analysis = analysisMarkdown(r);
  const lines = [
    '# Benchmark results',
    '',
    `Run ${r.date} with \`make bench\` on ${cpus().length} cores (${cpus()[0]?.model ?? 'unknown CPU'}), ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${r.node ?? '(not recorded)'}, redis-server from Debian, ${r.mongoKind}. Load generator, servers and replicas share the machine, so every number is a ratio within this one run.`,
    '',
    '## Targets',
    '',
    '| target | measured | |',
    '|---|---|---|',
    `| local hit ≥ 0.85 × bare Koa req/s | ${ratioCell(h.localOfBare)} | ${verdict(h.localOfBare.median >= 0.85)} |`,
    `| local hit ≥ 3 × Redis global cache req/s | ${ratioCell(h.localOverRedis)} | ${verdict(h.localOverRedis.median >= 3)} |`,
    `| local hit ≥ 5 × MongoDB direct req/s | ${ratioCell(h.localOverMongo)} | ${verdict(h.localOverMongo.median >= 5)} |`,
    `| lag p50 and p99 ≤ 1.5 × raw PUBLISH floor at every receivers count (${int(h.lagRate)}/s; worst step, median of paired runs) | p50 ${x(h.worstOverFloor.p50.median)} (${h.worstOverFloor.p50.receivers} replicas), p99 ${x(h.worstOverFloor.p99.median)} (${h.worstOverFloor.p99.receivers} replicas) | ${verdict(h.worstOverFloor.p50.median <= 1.5 && h.worstOverFloor.p99.median <= 1.5)} |`,
    ...PEER_SYSTEMS.map((system) => {
      const w = h.worstOverPeer[system];
      return `| lag p50 and p99 ≤ ${PEER_NAMES[system]} at every receivers count (${int(h.lagRate)}/s; worst step) | p50 ${x(w.p50.median)}, p99 ${x(w.p99.median)} the peer's | ${verdict(w.p50.median <= 1 && w.p99.median <= 1)} |`;
    }),
    ...sideTargets(r).map(
      (t) =>
        `| side by side at ${int(t.rate)}/s, at once with the peers, handed over → evicted: unsigned p50 and p99 ≤ the better peer, signed ≤ 1.2x | unsigned p50 ${x(t.unsigned.p50)}, p99 ${x(t.unsigned.p99)}; signed p50 ${x(t.signed.p50)}, p99 ${x(t.signed.p99)} | ${verdict(t.unsigned.p50 <= 1 && t.unsigned.p99 <= 1 && t.signed.p50 <= 1.2 && t.signed.p99 <= 1.2)} |`,
    ),
    ...coalescingTargets(r).map(
      (t) =>
        `| coalescing costs no latency at ${int(t.rate)}/s: p99 from the handover coalescing ≤ not coalescing (median of paired runs; or within the range of an A/A control, one message a write run again, and not higher in every pair) | ${ratioCell(t.p99)}${t.control ? `; A/A ${ratioCell(t.control.p99)}` : ''} | ${verdict(t.met)} |`,
    ),
    ...(r.receive?.handlerUnsigned === undefined
      ? []
      : [
          `| receive handler ≤ 5 µs a message unsigned, ≤ 8 µs signed (untraced, in process) | ${r.receive.handlerUnsigned.toFixed(2)} µs unsigned, ${r.receive.handlerUntraced.toFixed(2)} µs signed | ${verdict(r.receive.handlerUnsigned <= 5 && r.receive.handlerUntraced <= 8)} |`,
        ]),
    `| lag p99 growth from ${Math.min(...r.plan.replicaCounts)} to ${Math.max(...r.plan.replicaCounts)} replicas ≤ 4 × (1,000/s) | ${x(h.growth2to16)} (the raw floor's own growth: ${x(h.floorGrowth2to16)}) | ${verdict(h.growth2to16 <= 4)} |`,
    `| ≥ 40,000 invalidations/s sustained with zero loss and p99 lag under 1 s (${r.plan.throughputReplicas} replicas) | ${int(h.maxZeroLossRate)}/s coalesced, ${int(h.maxZeroLossRateUncoalesced)}/s one message a write | ${verdict(h.maxZeroLossRate >= 40_000)} |`,
    '',
    analysis,
    '',
    `## Read path: GET /books/:id, autocannon, ${r.plan.connections} connections, ${r.plan.readSeconds} s a run, ${r.plan.readRepeats ?? 1} runs each, interleaved`,
    '',
    '| served from | req/s (median, range) | p50 | p99 | of bare Koa (paired runs) |',
    '|---|---|---|---|---|',
    ...[...new Set(r.readPath.map((row) => row.path))].map((path) => {
      const rows = r.readPath.filter((row) => row.path === path);
      const rps = spread(rows.map((row) => row.requestsPerSecond));
      return `| ${path} | ${int(rps.median)} (${int(rps.min)} to ${int(rps.max)}) | ${median(p50s(rows))} ms | ${median(p99s(rows))} ms | ${ratioCell(spread(rows.map((row) => row.ofBare)))} |`;
    }),
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
    ...lagMarkdown(r),
    ...sideMarkdown(r),
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
    ...inZoneMarkdown(r),
    ...coalescingMarkdown(r),
    ...receiveMarkdown(r),
    ...receiveProfileMarkdown(r),
    ...coalescingLagMarkdown(r),
    ...breakdownMarkdown(r),
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

/** Median and range of one statistic over a system's runs at one rate. */
function sideSpread(runs: SideRun[], pick: (run: SideRun) => number | undefined): Spread {
  return spread(runs.map(pick).filter((v): v is number => v !== undefined && Number.isFinite(v)));
}

const msSpread = (v: Spread) =>
  v.median === undefined || Number.isNaN(v.median)
    ? '-'
    : `${v.median.toFixed(2)} (${v.min.toFixed(2)}-${v.max.toFixed(2)})`;

export interface SideTarget {
  rate: number;
  /** Ours over the better peer's (the lower median), p50 and p99, all systems at once. */
  unsigned: { p50: number; p99: number };
  signed: { p50: number; p99: number };
}

/** Ratios of this service's handover-to-evict lag over the better peer's, at each rate, from the runs side by side. */
export function sideTargets(r: BenchResults): SideTarget[] {
  const runs = (r.side ?? []).filter((run) => run.together);
  return [...new Set(runs.map((run) => run.rate))].map((rate) => {
    // Ours against the peers that ran beside it (results measured before `beside` had all at once).
    const over = (ours: OurSystem) => {
      const at = (system: SideSystem) =>
        runs.filter(
          (run) => run.rate === rate && run.system === system && (run.beside === undefined || run.beside === ours),
        );
      const med = (system: SideSystem, pick: (s: LatencyStats) => number) =>
        median(at(system).map((run) => pick(run.total)));
      const better = (pick: (s: LatencyStats) => number) =>
        Math.min(...PEER_SYSTEMS.map((system) => med(system, pick)));
      return {
        p50: med(ours, (s) => s.p50Ms) / better((s) => s.p50Ms),
        p99: med(ours, (s) => s.p99Ms) / better((s) => s.p99Ms),
      };
    };
    return { rate, unsigned: over('unsigned'), signed: over('signed') };
  });
}

/** This service and the peers at the same rates, every clock from the handover: all at once, then one after another. */
function sideMarkdown(r: BenchResults): string[] {
  const runs = r.side ?? [];
  if (runs.length === 0) return [];
  const { receivers, seconds, repeats, warmUpMessages, meterLeadMs } = r.plan.side;
  const meters =
    meterLeadMs === undefined
      ? ''
      : `; in a run at once from ${meterLeadMs} ms before the common start, not over the lead every system's processes first wait through`;
  const warmUp = warmUpMessages
    ? ` Before the rounds each of this service's receivers got ${int(warmUpMessages)} messages, unrecorded: a fresh replica's CPU per message falls by about half over its first 20,000 (V8 compiling on background threads, counted as the process's CPU), so the rounds would drift, and a production replica is long-lived. The peers' receivers are started afresh for every run.`
    : '';
  const name = (system: SideSystem) =>
    system === 'unsigned'
      ? 'this service, unsigned'
      : system === 'signed'
        ? 'this service, signed'
        : PEER_NAMES[system];
  // Together: ours and the peers beside it, one group per variant of ours (one group in results
  // measured before `beside`); alone: every system once.
  const groups = (together: boolean): [OurSystem | undefined, SideSystem][] =>
    !together || runs.every((run) => run.beside === undefined)
      ? SIDE_SYSTEMS.map((system) => [undefined, system])
      : OUR_SYSTEMS.flatMap((ours) => [ours, ...PEER_SYSTEMS].map((system): [OurSystem, SideSystem] => [ours, system]));
  const table = (together: boolean) => {
    const rows: string[] = [];
    for (const rate of [...new Set(runs.map((run) => run.rate))]) {
      for (const [beside, system] of groups(together)) {
        const group = runs.filter(
          (run) => run.together === together && run.rate === rate && run.system === system && run.beside === beside,
        );
        if (group.length === 0) continue;
        const label = beside !== undefined && system !== beside ? `${name(system)}, beside ${beside}` : name(system);
        rows.push(
          `| ${int(rate)} | ${label} | ${msSpread(sideSpread(group, (g) => g.total.p50Ms))} | ${msSpread(sideSpread(group, (g) => g.total.p99Ms))} | ${msSpread(sideSpread(group, (g) => g.send?.p50Ms))} / ${msSpread(sideSpread(group, (g) => g.send?.p99Ms))} | ${msSpread(sideSpread(group, (g) => g.receive?.p50Ms))} / ${msSpread(sideSpread(group, (g) => g.receive?.p99Ms))} | ${median(group.map((g) => g.cpuUsPerMessage)).toFixed(1)} | ${int(median(group.map((g) => g.heapBytesPerMessage)))} | ${group.reduce((n, g) => n + g.lost, 0)} |`,
        );
      }
    }
    return [
      '| writes/s | system | handed over → evicted p50, ms (median, range) | p99 | send side p50 / p99 | receive side p50 / p99 | receiver CPU µs per message | heap bytes per message | lost |',
      '|---|---|---|---|---|---|---|---|---|',
      ...rows,
    ];
  };
  const targets = sideTargets(r);
  return [
    `## Side by side: this service and the peers, ${receivers} receivers each, clocks from the handover`,
    '',
    `Each system writes at the same rate for ${seconds} s to ${receivers} receiving processes; ${repeats} rounds, each first with three systems at once on one Redis, this service unsigned and both peers, then signed and both peers (their writers start at the same instant, as in production the same box would be shared; which of ours goes first alternates), and then one system at a time. Every clock starts when the writer hands the change to the sync layer: this service's \`publish\` (the bench sets \`committedAt\` then; its replicas time the eviction from it), BentoCache's \`delete\`, node-redis' \`SET\`. For this service the send side is handover → the message handed to the socket, the receive side the envelope's \`publishedAt\` → eviction; the peers cannot be split. CPU is each receiving process's CPU time over the run (for this service, \`process_cpu_seconds_total\`, heartbeats and scrapes included${meters}) per invalidation applied; heap bytes are V8 allocations over the same time (what each collection freed plus the growth) per invalidation.${warmUp}`,
    '',
    '### Three systems at once: this service (unsigned, then signed) beside both peers',
    '',
    ...table(true),
    '',
    '### One system at a time',
    '',
    ...table(false),
    '',
    ...targets.map(
      (t) =>
        `- At ${int(t.rate)}/s, at once with the peers: unsigned p50 ${x(t.unsigned.p50)} and p99 ${x(t.unsigned.p99)} the better peer's (target ≤ 1x: ${verdict(t.unsigned.p50 <= 1 && t.unsigned.p99 <= 1)}); signed p50 ${x(t.signed.p50)} and p99 ${x(t.signed.p99)} (target ≤ 1.2x: ${verdict(t.signed.p50 <= 1.2 && t.signed.p99 <= 1.2)}).`,
    ),
    '',
  ];
}

/** One replica's CPU profile and GC trace while it receives: time per message by part, and the pauses. */
function receiveProfileMarkdown(r: BenchResults): string[] {
  const p = r.receiveProfile;
  if (!p) return [];
  const onPath = RECEIVE_PARTS.slice(0, 7) as readonly string[];
  const pathUs = p.parts.filter(([part]) => onPath.includes(part)).reduce((n, [, us]) => n + us, 0);
  const top = [...p.parts].filter(([part]) => onPath.includes(part)).sort((a, b) => b[1] - a[1])[0];
  return [
    `## Where a receiver's time goes: one replica at ${int(p.rate)}/s for ${p.seconds} s, --cpu-prof and --trace-gc`,
    '',
    `One replica as it runs by default (signed messages, metrics; the bench's writer does not trace, so its messages carry no trace context and get no CONSUMER span) received ${int(p.messages)} invalidations (lag p50 ${ms(p.lag.p50Ms)}, p99 ${ms(p.lag.p99Ms)}). Its CPU profile's samples, by the innermost frame that belongs to a part of the receive path (\`bench/receive/receive-profile.ts\`), per invalidation applied, from the samples taken while the run lasted (start-up left out); the Redis client, garbage collection and everything else (HTTP, heartbeats, timers, the event loop's own work) are the whole process's over the run, spread over the same messages.`,
    '',
    '| part | µs per message | of the receive path |',
    '|---|---|---|',
    ...p.parts.map(
      ([part, us]) =>
        `| ${part} | ${us.toFixed(2)} | ${onPath.includes(part) && pathUs > 0 ? `${((us / pathUs) * 100).toFixed(0)} %` : '-'} |`,
    ),
    '',
    `The receive path takes ${pathUs.toFixed(1)} µs a message in all${top ? `, most of it in ${top[0]} (${top[1].toFixed(1)} µs)` : ''}. Garbage collection paused the replica ${p.gc.count} times over the run (start-up left out), ${p.gc.totalMs.toFixed(1)} ms in all, p99 ${ms(p.gc.p99Ms)}, longest ${ms(p.gc.maxMs)}; ${p.gc.overOneMs} pauses of a millisecond or more, ${p.gc.maxMs >= p.lag.p99Ms ? 'as long as the p99 lag or longer: GC can make the tail on its own' : 'all shorter than the p99 lag: GC alone does not make the tail'}.`,
    '',
  ];
}

type CoalescingWriter = 'on' | 'off' | 'control';
const writerOf = (run: { coalesce: boolean; control?: boolean }): CoalescingWriter =>
  run.coalesce ? 'on' : run.control ? 'control' : 'off';

export interface CoalescingTarget {
  rate: number;
  /** Coalescing over one message a write, paired runs. */
  p50: Spread;
  p99: Spread;
  /** The second writer that does not coalesce over the first (A/A): the noise between identical setups. */
  control?: { p50: Spread; p99: Spread };
  /** Paired runs in which coalescing's p99 was the higher, of how many. */
  worse: [number, number];
  /**
   * Coalescing's p99 no worse: its median ratio at most 1, or within the A/A control's range and
   * not higher in every pair (a difference every pair shows is not noise).
   */
  met: boolean;
}

/** Coalescing's cost at each rate: p50 and p99 from the handover, coalescing over not, paired runs. */
export function coalescingTargets(r: BenchResults): CoalescingTarget[] {
  const runs = r.coalescingLag ?? [];
  return [...new Set(runs.map((run) => run.rate))].map((rate) => {
    const at = (writer: CoalescingWriter) =>
      runs.filter((run) => run.rate === rate && writerOf(run) === writer).map((run) => run.fromHandover!);
    const off = at('off');
    const p99 = pairedRatios(p99s(at('on')), p99s(off));
    const pairs = Math.min(at('on').length, off.length);
    const worse = at('on')
      .slice(0, pairs)
      .filter((run, i) => run.p99Ms > off[i]!.p99Ms).length;
    const control =
      at('control').length > 0
        ? { p50: pairedRatios(p50s(at('control')), p50s(off)), p99: pairedRatios(p99s(at('control')), p99s(off)) }
        : undefined;
    return {
      rate,
      p50: pairedRatios(p50s(at('on')), p50s(off)),
      p99,
      control,
      worse: [worse, pairs],
      met: p99.median <= 1 || (control !== undefined && p99.median <= control.p99.max && worse < pairs),
    };
  });
}

function coalescingLagMarkdown(r: BenchResults): string[] {
  const runs = r.coalescingLag ?? [];
  if (runs.length === 0) return [];
  const { repeats, receivers, warmUpMessages } = r.plan.coalescingLag;
  const coalescingWarmUp = warmUpMessages
    ? `, which first got ${int(warmUpMessages)} messages each, unrecorded (a fresh replica's CPU per message falls by about half over its first 20,000)`
    : '';
  const NAMES: Record<CoalescingWriter, string> = {
    on: 'coalescing (the default)',
    off: 'one message a write',
    control: 'one message a write, run again (A/A control)',
  };
  const rows = [...new Set(runs.map((run) => run.rate))].flatMap((rate) =>
    (['on', 'off', 'control'] as const).flatMap((writer) => {
      const group = runs.filter((run) => run.rate === rate && writerOf(run) === writer);
      if (group.length === 0) return [];
      const handover = group.map((run) => run.fromHandover!);
      return [
        `| ${int(rate)} | ${NAMES[writer]} | ${int(median(group.map((run) => run.messages)))} | ${msSpread(spread(p50s(handover)))} | ${msSpread(spread(p99s(handover)))} | ${msSpread(spread(group.map((run) => run.sendSide!.p99Ms)))} | ${group.reduce((n, run) => n + run.lost, 0)} |`,
      ];
    }),
  );
  return [
    `## What coalescing costs a write: the same ${receivers} unsigned replicas, the writer coalescing or not, ${repeats} interleaved runs each (the order rotates), after an unrecorded warm-up run of each`,
    '',
    `A write goes out at once; only the writes that follow it before the process's next tick (the rest of the same timer callback here, when the timer fired late and several writes were due) share a message, sent on that tick. Both writers send to the same replicas${coalescingWarmUp}. One message a write is run a second time in each round as the control: what the two differ by is how far two runs of one setup differ on this machine, so a difference within it is not a cost, unless every pair shows it. Lag from the handover (median, range):`,
    '',
    '| writes/s | writer | messages | p50, ms | p99, ms | send side p99, ms | lost |',
    '|---|---|---|---|---|---|---|',
    ...rows,
    '',
    ...coalescingTargets(r).map(
      (t) =>
        `- At ${int(t.rate)}/s coalescing gives ${x(t.p50.median)} the p50 and ${x(t.p99.median)} the p99 of one message a write (paired runs, ${x(t.p99.min)} to ${x(t.p99.max)}); its p99 was the higher in ${t.worse[0]} of ${t.worse[1]} pairs${t.control ? `; the control gives ${x(t.control.p50.median)} and ${x(t.control.p99.median)} (${x(t.control.p99.min)} to ${x(t.control.p99.max)})` : ''}: ${t.p99.median <= 1 ? 'no worse' : t.met ? 'within the noise of two runs of one setup' : 'worse'}.`,
    ),
    '',
  ];
}
