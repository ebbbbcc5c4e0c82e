import { lagSteps, median, pairedRatios } from '../lag/lag-steps';
import { PEER_NAMES, PEER_SYSTEMS, type PeerSystem } from '../lag/peer-lag';
import { type BenchResults, LAG_VARIANTS, type LagVariant } from '../plan';
import { comparedRow, int, msMedian, p50s, p99s, ratioCell, x } from './format';

/** Where the lag above the floor goes: replicas signed, unsigned, unsigned without the tracing SDK. */
export function breakdownMarkdown(r: BenchResults): string[] {
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
export function signingMarkdown(r: BenchResults): string[] {
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
export function topologyMarkdown(r: BenchResults): string[] {
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

/** The lag tables: the service against the raw floor, and against the peers, every step the median of paired runs. */
export function lagMarkdown(r: BenchResults): string[] {
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
