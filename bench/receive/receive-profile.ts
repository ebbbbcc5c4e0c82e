import { mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from '../../service/local-stack/processes';
import { startLagBench } from '../lag/lag-bench';
import type { LatencyStats } from '../lag/latency';
import type { BenchServers } from '../servers';

export interface CpuProfile {
  /** Microseconds on the monotonic clock that process.hrtime reads too, in every process of the machine. */
  startTime: number;
  nodes: { id: number; callFrame: { functionName: string; url: string }; children?: number[] }[];
  samples: number[];
  timeDeltas: number[];
}

/** The parts of a replica's receive path, and what else its process spends time on. */
export const RECEIVE_PARTS = [
  'verify',
  'decode and validate',
  'gap check',
  'evict',
  'observe (metrics)',
  'span',
  'subscriber (the rest)',
  'redis client',
  'garbage collection',
  'everything else',
] as const;
export type ReceivePart = (typeof RECEIVE_PARTS)[number];

/** Which part a frame's source belongs to, on the receive path. */
const BY_SOURCE: [RegExp, ReceivePart][] = [
  [/sync\/signing\./, 'verify'],
  [/sync\/envelope\.|node_modules\/zod\//, 'decode and validate'],
  [/sync\/gap-detector\./, 'gap check'],
  [/cache\/local-cache\.|node_modules\/node-cache\//, 'evict'],
  [/prometheus\/|node_modules\/prom-client\/|telemetry\/metrics\.|http\/bench-routes\./, 'observe (metrics)'],
  [/sync\/message-spans\.|node_modules\/@opentelemetry\//, 'span'],
];

/**
 * Time per part of the receive path from a CPU profile: a sample on the receive path (a frame of
 * the invalidation subscriber below it) goes to the part of its innermost frame that has one
 * (JSON.parse under decodeEnvelope is decoding; a histogram under the metrics observer is
 * observing), else to the subscriber itself; samples elsewhere go to the Redis client, garbage
 * collection or everything else. Idle time is left out, and so is every sample outside `window`
 * (monotonic microseconds, as the profile's startTime) when it is given.
 */
export function receiveBreakdown(profile: CpuProfile, window?: [number, number]): Map<ReceivePart, number> {
  const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const child of n.children ?? []) parent.set(child, n.id);
  const partOf = new Map<number, ReceivePart | undefined>();
  const classify = (leaf: number): ReceivePart | undefined => {
    const frames: { functionName: string; url: string }[] = [];
    for (let id: number | undefined = leaf; id !== undefined; id = parent.get(id)) {
      const node = nodes.get(id);
      if (node) frames.push(node.callFrame);
    }
    const name = frames[0]?.functionName ?? '';
    if (name === '(idle)' || name === '(program)' || name === '(root)') return undefined;
    if (name === '(garbage collector)') return 'garbage collection';
    if (frames.some((f) => /sync\/invalidation-subscriber\./.test(f.url))) {
      for (const frame of frames) {
        const match = BY_SOURCE.find(([source]) => source.test(frame.url));
        if (match) return match[1];
        if (/sync\/invalidation-subscriber\./.test(frame.url)) return 'subscriber (the rest)';
      }
    }
    if (frames.some((f) => /node_modules\/(ioredis|redis-parser)\//.test(f.url))) return 'redis client';
    return 'everything else';
  };
  const totals = new Map<ReceivePart, number>();
  let at = profile.startTime;
  profile.samples.forEach((id, i) => {
    at += profile.timeDeltas[i] ?? 0;
    if (window && (at < window[0] || at > window[1])) return;
    if (!partOf.has(id)) partOf.set(id, classify(id));
    const part = partOf.get(id);
    if (part) totals.set(part, (totals.get(part) ?? 0) + (profile.timeDeltas[i] ?? 0) / 1000);
  });
  return totals;
}

const monotonicMicros = () => Number(process.hrtime.bigint() / 1000n);

export interface GcPauses {
  count: number;
  totalMs: number;
  p99Ms: number;
  maxMs: number;
  /** Pauses of a millisecond or more: the ones a p99 lag in milliseconds can be made of. */
  overOneMs: number;
}

/** Pauses from node's --trace-gc lines ("... Scavenge 5.1 (6.2) -> 4.3 (7.2) MB, pooled: 0 MB, 0.85 / 0.00 ms ..."). */
export function gcPauses(traceGc: string): GcPauses {
  const pauses = [
    ...traceGc.matchAll(/ms: (?:[A-Za-z-]+ ?)+[\d.]+ \([\d.]+\) -> [\d.]+ \([\d.]+\) MB,.*? ([\d.]+) \/ [\d.]+ ms/g),
  ]
    .map((m) => Number(m[1]))
    .sort((a, b) => a - b);
  return {
    count: pauses.length,
    totalMs: pauses.reduce((a, b) => a + b, 0),
    p99Ms: pauses[Math.max(0, Math.ceil(pauses.length * 0.99) - 1)] ?? 0,
    maxMs: pauses.at(-1) ?? 0,
    overOneMs: pauses.filter((p) => p >= 1).length,
  };
}

export interface ReceiveProfile {
  rate: number;
  seconds: number;
  /** Invalidations the profiled replica applied. */
  messages: number;
  /** Microseconds per message applied, by part, from the samples taken while the messages were sent and applied. */
  parts: [ReceivePart, number][];
  gc: GcPauses;
  lag: LatencyStats;
}

/**
 * One replica as it runs by default (signed; the bench's writer does not trace), receiving `rate` invalidations/s for
 * `seconds` under --cpu-prof and --trace-gc: where its time goes per message, and its GC pauses.
 */
export async function receiveProfile(
  servers: BenchServers,
  plan: { rate: number; seconds: number },
): Promise<ReceiveProfile> {
  const dir = join(ROOT, 'reports/receive-profile');
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const bench = await startLagBench(servers, {
    coalesce: true,
    channel: `${servers.channel}-profile`,
    // A sample every 100 µs (V8's default is 1 ms): a message's receive path takes tens of µs, and
    // at 1 ms a short run on a loaded machine could put no sample on it at all.
    nodeArgs: ['--cpu-prof', '--cpu-prof-interval=100', `--cpu-prof-dir=${dir}`, '--trace-gc'],
  });
  let run: Awaited<ReturnType<typeof bench.run>>;
  let traceGc = '';
  const window: [number, number] = [0, 0];
  try {
    await bench.scale(1);
    // Only the pauses of the run: start-up's (loading modules, growing the heap) are not behind its lag.
    const startupOutput = bench.outputs()[0]?.length ?? 0;
    window[0] = monotonicMicros();
    run = await bench.run(plan.rate, plan.seconds);
    window[1] = monotonicMicros();
    traceGc = bench.outputs()[0]?.slice(startupOutput) ?? '';
  } finally {
    await bench.stop(); // the profile is written on exit
  }
  const file = readdirSync(dir).find((f) => f.endsWith('.cpuprofile'));
  if (!file) throw new Error('receive profile: no profile written');
  const totals = receiveBreakdown(JSON.parse(readFileSync(join(dir, file), 'utf8')) as CpuProfile, window);
  const messages = run.count;
  return {
    rate: plan.rate,
    seconds: plan.seconds,
    messages,
    parts: RECEIVE_PARTS.map((part) => [part, messages > 0 ? ((totals.get(part) ?? 0) * 1000) / messages : 0]),
    gc: gcPauses(traceGc),
    lag: { count: run.count, p50Ms: run.p50Ms, p99Ms: run.p99Ms, maxMs: run.maxMs },
  };
}
