import { cpus } from 'node:os';
import { type LagStep, lagSteps, median, pairedRatios, type Spread, spread } from '../lag/lag-steps';
import { PEER_NAMES, PEER_SYSTEMS, type PeerSystem } from '../lag/peer-lag';
import { type BenchResults, isSustained } from '../plan';
import { int, p50s, p99s, x } from './format';

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

/** The step whose median paired ratio is highest. */
export function worst(steps: LagStep[], ratio: (step: LagStep) => Spread): WorstStep {
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
