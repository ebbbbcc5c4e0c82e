import { median } from '../lag/lag-steps';
import type { BenchResults } from '../plan';
import { RECEIVE_PARTS } from '../receive/receive-profile';
import { int, ms } from './format';

/** Where a replica's time goes for each message, in process. */
export function receiveMarkdown(r: BenchResults): string[] {
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

/** One replica's CPU profile and GC trace while it receives: time per message by part, and the pauses. */
export function receiveProfileMarkdown(r: BenchResults): string[] {
  const p = r.receiveProfile;
  if (!p) return [];
  const onPath = RECEIVE_PARTS.slice(0, 7) as readonly string[];
  const pathUs = p.parts.filter(([part]) => onPath.includes(part)).reduce((n, [, us]) => n + us, 0);
  const top = [...p.parts].filter(([part]) => onPath.includes(part)).sort((a, b) => b[1] - a[1])[0];
  return [
    `## Where a receiver's time goes: one replica at ${int(p.rate)}/s for ${p.seconds} s, --cpu-prof (a sample every 100 µs) and --trace-gc`,
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

/** One tag invalidation evicting every entry of the tag on each receiver, and the 50 ms target. */
export function tagEvictionMarkdown(r: BenchResults): string[] {
  const t = r.tagEviction;
  if (!t) return [];
  const all = t.evicted.every((run) => run.length === t.receivers && run.every((n) => n === t.entries));
  return [
    '## A tag invalidation evicting a whole tag on every replica',
    '',
    `${t.receivers} replica processes (the library, stream mode, signed, on this run's Redis) each hold ${int(t.entries)} entries carrying one tag (and a tag of their own each), warmed by three rounds of the same; a sender invalidates the tag. ${t.handoverMs.length} runs, fresh receivers each (median, and the range): from the message's handover (its publishedAt) to the last replica's eviction done, ${msCell(t.handoverMs)}; from the invalidateTags call (its INCR for the version included), ${msCell(t.callMs)}. Every run evicted ${all ? `all ${int(t.entries)} entries on every replica` : `not everything: ${JSON.stringify(t.evicted)}`}.`,
    '',
    `- Target: under 50 ms from the handover to the last eviction: ${median(t.handoverMs).toFixed(1)} ms, ${median(t.handoverMs) < 50 && all ? 'met' : 'missed'}.`,
    '',
  ];
}

const msCell = (values: number[]) =>
  `${median(values).toFixed(1)} ms (${Math.min(...values).toFixed(1)}-${Math.max(...values).toFixed(1)})`;

/** Where the lag's tail goes as receivers are added: each replica's main thread running, and waiting for a CPU. */
export function tailProfileMarkdown(r: BenchResults): string[] {
  const t = r.tailProfile;
  if (!t || t.steps.length === 0) return [];
  const us = (v: number) => v.toFixed(1);
  const first = t.steps[0]!;
  const last = t.steps.at(-1)!;
  const waitShare = (s: (typeof t.steps)[number]) => s.waitUsPerMessage / (s.runUsPerMessage + s.waitUsPerMessage);
  return [
    `## Where the tail goes at more receivers: scheduler counters at ${int(t.rate)}/s, ${t.seconds} s a count, on ${t.cores} cores`,
    '',
    `This service's replicas (signed, warmed with ${int(r.plan.tailProfile!.warmUpMessages)} messages each, unrecorded) at each count; each replica's main thread's /proc/<pid>/schedstat read before and after the run: the time it ran, and the time it was ready to run and waited for a CPU, per message applied (\`bench/receive/tail-profile.ts\`).`,
    '',
    '| receivers | lag p50 | lag p99 | ran, µs per message | waited for a CPU, µs per message | of its time ready, waiting | put on a CPU, per message | cores the replicas kept busy |',
    '|---|---|---|---|---|---|---|---|',
    ...t.steps.map(
      (s) =>
        `| ${s.receivers} | ${ms(s.lag.p50Ms)} | ${ms(s.lag.p99Ms)} | ${us(s.runUsPerMessage)} | ${us(s.waitUsPerMessage)} | ${(waitShare(s) * 100).toFixed(0)} % | ${s.slicesPerMessage.toFixed(2)} | ${s.coresUsed.toFixed(2)} |`,
    ),
    '',
    `From ${first.receivers} to ${last.receivers} receivers the p99 went from ${ms(first.lag.p99Ms)} to ${ms(last.lag.p99Ms)} (${(last.lag.p99Ms / first.lag.p99Ms).toFixed(2)}x), the CPU a message costs a replica from ${us(first.runUsPerMessage)} to ${us(last.runUsPerMessage)} µs (${(last.runUsPerMessage / first.runUsPerMessage).toFixed(2)}x), and its wait for a CPU from ${us(first.waitUsPerMessage)} to ${us(last.waitUsPerMessage)} µs (${(last.waitUsPerMessage / first.waitUsPerMessage).toFixed(2)}x). ${
      last.waitUsPerMessage > last.runUsPerMessage
        ? `At ${last.receivers} receivers a replica waits longer for a CPU than it runs: the tail is the queue for ${t.cores} cores, which a faster receive path shortens only by the CPU it saves.`
        : `At ${last.receivers} receivers a replica runs longer than it waits for a CPU: the receive path's own cost makes the tail.`
    }`,
    '',
  ];
}
