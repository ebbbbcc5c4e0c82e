import { cpus, totalmem } from 'node:os';
import { median, spread } from '../lag/lag-steps';
import { PEER_NAMES, PEER_SYSTEMS } from '../lag/peer-lag';
import { type BenchResults, isSustained } from '../plan';
import { coalescingLagMarkdown, coalescingTargets } from './coalescing-lag';
import { int, ms, p50s, p99s, ratioCell, verdict, x } from './format';
import { analysisMarkdown, headline } from './headline';
import { breakdownMarkdown, lagMarkdown, signingMarkdown, topologyMarkdown } from './lag';
import { coalescingMarkdown, guardedHitMarkdown, hitPathMarkdown, inZoneMarkdown, tracingMarkdown } from './read-path';
import { receiveMarkdown, receiveProfileMarkdown, tagEvictionMarkdown, tailProfileMarkdown } from './receive';
import { freshSideTargets, sideMarkdown, sideMet, sideTargets } from './side-by-side';

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
        `| side by side at ${int(t.rate)}/s, at once with the peers, handed over → evicted: unsigned p50 and p99 ≤ the better peer, signed ≤ 1.2x | unsigned p50 ${x(t.unsigned.p50)}, p99 ${x(t.unsigned.p99)}; signed p50 ${x(t.signed.p50)}, p99 ${x(t.signed.p99)} | ${verdict(sideMet(t))} |`,
    ),
    ...freshSideTargets(r).map(
      (t) =>
        `| side by side, ${t.receivers} fresh receivers each, at ${int(t.rate)}/s, at once with the peers: unsigned p50 and p99 ≤ the better peer, signed ≤ 1.2x | unsigned p50 ${x(t.unsigned.p50)}, p99 ${x(t.unsigned.p99)}; signed p50 ${x(t.signed.p50)}, p99 ${x(t.signed.p99)} | ${verdict(sideMet(t))} |`,
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
    ...(r.guardedHit === undefined
      ? []
      : (
          [
            ['tagged getOrLoad hit with fail-safe and timeouts', r.guardedHit.taggedNs ?? []],
            ['getOrLoad hit with eager refresh too', r.guardedHit.guardedNs],
          ] as const
        )
          .filter(([, ns]) => ns.length > 0)
          .map(([what, ns]) => {
            const share = median(ns) / median(r.guardedHit!.plainNs);
            return `| ${what} ≤ 1.05x the plain hit (in process) | ${x(share)} | ${verdict(share <= 1.05)} |`;
          })),
    ...(r.tagEviction === undefined
      ? []
      : [
          `| a tag invalidation evicting ${int(r.tagEviction.entries)} entries on each of ${r.tagEviction.receivers} replicas: handover to the last eviction < 50 ms | ${median(r.tagEviction.handoverMs).toFixed(1)} ms | ${verdict(median(r.tagEviction.handoverMs) < 50)} |`,
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
    ...tailProfileMarkdown(r),
    ...coalescingLagMarkdown(r),
    ...breakdownMarkdown(r),
    ...signingMarkdown(r),
    ...topologyMarkdown(r),
    ...tracingMarkdown(r),
    ...hitPathMarkdown(r),
    ...guardedHitMarkdown(r),
    ...tagEvictionMarkdown(r),
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
