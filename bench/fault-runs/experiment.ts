// `make experiment`: every sync mode through the same faults, with the same probe seed, and a
// comparison table (reports/experiment-<date>/, docs/experiment.md), plus the Redis master killed
// on a Sentinel set and a Cluster (the failover table, also written into the README).
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import type { TopologyKind } from '@local-cache-sync/core';
import { SYNC_MODES, type SyncMode } from '@local-cache-sync/core';
import { type FaultName, heal, inject, pauseUntilCut, settled } from '../../service/local-stack/faults';
import { ROOT, waitFor } from '../../service/local-stack/processes';
import { type Stack, startStack } from '../../service/local-stack/stack';
import { answerHelp } from '../../service/src/cli';
import {
  failoverReading,
  failoverTable,
  type Row,
  reading,
  TTL_SECONDS,
  table,
  writeReadmeBlock,
} from './experiment-report';
import { Witness } from './witness';

const FAULTS: FaultName[] = ['kill', 'pause', 'cut', 'restart-redis', 'crash', 'garbage', 'failover'];

/** The failover fault runs on each of these (the others on standalone Redis). */
const FAILOVER_TOPOLOGIES: TopologyKind[] = ['sentinel', 'cluster'];

const FAULT_SECONDS = Number(process.env.FAULT_SECONDS ?? 6);

const OBSERVE_SECONDS = Number(process.env.OBSERVE_SECONDS ?? 10);

const SEED = 42;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function totals(stack: Stack, name: string, labels: Record<string, string> = {}) {
  let sum = 0;
  for (const replica of stack.replicas) {
    try {
      sum += await replica.metric(name, labels);
    } catch {
      // a killed replica has no metrics
    }
  }
  return sum;
}

/** After a failover: every replica subscribed on the new master (and, in the safer modes, trusting its cache). */
async function recovered(stack: Stack): Promise<void> {
  for (const replica of stack.replicas) {
    await waitFor(
      async () =>
        (await replica.metric('cache_invalidation_subscriber_up')) === 1 &&
        (await replica.metric('cache_invalidation_subscriber_failovers_total')) >= 1 &&
        (await replica.metric('cache_sync_trusted')) === 1,
      { timeoutMs: 60_000, message: `${replica.id} back on the new master` },
    );
  }
}

export async function run(mode: SyncMode, fault: FaultName, topology: TopologyKind): Promise<Row> {
  const stack = await startStack({
    ttlSeconds: TTL_SECONDS,
    syncMode: mode,
    topology,
    seed: SEED,
    heartbeatMs: 1000,
    probeRate: 150,
    probeKeys: 30,
    redisArgs: ['--client-output-buffer-limit', 'pubsub 256kb 64kb 1'],
    // The probe writes through book-2 only: book-3 is the one paused, cut or killed, and book-1
    // crashes on the witness's write, not on one of the probe's.
    writers: [1],
  });
  try {
    await waitFor(() => stack.probe.summary().replicas.every((r) => r.reads >= 100), {
      timeoutMs: 30_000,
      message: 'warm-up',
    });
    const witness = await Witness.create(stack);
    const [hits0, misses0] = [
      await totals(stack, 'cache_gets_total', { result: 'hit' }),
      await totals(stack, 'cache_gets_total', { result: 'miss' }),
    ];
    const startedAt = Date.now();
    let failover: Row['failover'];
    let recoveredAt = 0;
    let settledAt = 0;
    if (fault === 'pause') await pauseUntilCut(stack, 2);
    else if (fault === 'failover') {
      // The witness is written inside the gap, through book-2, as soon as its subscriber is down.
      const killing = stack.servers!.killMaster(stack.channel);
      await waitFor(async () => (await stack.replicas[1]!.metric('cache_invalidation_subscriber_up')) === 0, {
        message: 'the gap has begun',
      });
      await witness.write(1);
      const { promotedAfterMs } = await killing;
      await recovered(stack);
      recoveredAt = Date.now();
      // Losses of the failover are all noticed (a gap shows with the sender's next heartbeat).
      if (mode !== 'pubsub') await settled(stack);
      settledAt = Date.now();
      failover = {
        promotedAfterSeconds: promotedAfterMs / 1000,
        publishErrors: 0,
        receiversMissing: 0,
        recoveredAfterSeconds: (recoveredAt - startedAt) / 1000,
        staleAfterRecovery: 0,
        lostWrites: 0,
      };
    } else await inject(stack, fault, fault === 'crash' ? 0 : 2);
    if (fault !== 'failover') await witness.write(fault === 'crash' ? 0 : 1);
    await sleep(FAULT_SECONDS * 1000);
    await heal(stack, fault, fault === 'crash' ? 0 : 2);
    await sleep(OBSERVE_SECONDS * 1000);
    const witnessed = witness.stop();
    stack.probe.stop();
    await stack.probe.done;
    // One last read of every book on every replica: episodes that ended between the probe's
    // sparse reads close now; what is still stale stays open and counts to the end.
    await stack.probe.readAll();
    const probe = stack.probe.summary();
    const seconds = (Date.now() - startedAt) / 1000;
    const hits = (await totals(stack, 'cache_gets_total', { result: 'hit' })) - hits0;
    const misses = (await totals(stack, 'cache_gets_total', { result: 'miss' })) - misses0;
    const recoveryCount = await totals(stack, 'cache_sync_recovery_seconds_count');
    if (failover) {
      failover.publishErrors = await totals(stack, 'cache_invalidation_publish_errors_total');
      failover.receiversMissing = await totals(stack, 'cache_invalidation_receivers_missing_total');
      // Reads after every replica was back (and every loss noticed) of writes acknowledged before:
      // what recovery left stale.
      failover.lostWrites = stack.probe.truth.lostWrites.length;
      failover.staleAfterRecovery = stack.probe.truth.staleReads.filter(
        (r) => r.sentAt > settledAt && r.requiredAckAt < recoveredAt,
      ).length;
    }
    return {
      mode,
      fault,
      topology,
      failover,
      staleReads: probe.replicas.reduce((a, r) => a + r.stale, 0),
      maxStaleWindow: Math.max(...probe.replicas.map((r) => r.maxStaleWindowSeconds)),
      p99StaleWindow: Math.max(...probe.replicas.map((r) => r.p99StaleWindowSeconds)),
      missed: await totals(stack, 'cache_invalidations_missed_total'),
      recoveryMeanSeconds:
        recoveryCount > 0 ? (await totals(stack, 'cache_sync_recovery_seconds_sum')) / recoveryCount : undefined,
      hitRatio: hits + misses > 0 ? hits / (hits + misses) : 0,
      dbReadsPerSecond: misses / seconds,
      witness: witnessed,
      perReplica: probe.replicas.map((r) => ({ stale: r.stale, maxStaleWindowSeconds: r.maxStaleWindowSeconds })),
      sli: {
        judged: probe.replicas.reduce((a, r) => a + r.fresh + r.stale, 0),
        deliveries: await totals(stack, 'cache_invalidation_lag_seconds_count'),
        deliveredWithin1s: await totals(stack, 'cache_invalidation_lag_seconds_bucket', { le: '1' }),
      },
    };
  } finally {
    await stack.stop();
  }
}

const USAGE = `usage: make experiment   (or npx tsx bench/fault-runs/experiment.ts)

Every sync mode through every fault with the same probe seed (about 18 minutes); the failover

fault kills the Redis master of a Sentinel set and of a Cluster. Writes the comparison table and

its reading to reports/experiment-<date>/ and, when every mode and fault ran, to docs/experiment.md;

when every mode ran the failover, its table to the README too.

Environment:

  MODES=a,b    sync modes to run (default: ${SYNC_MODES.join(', ')})

  FAULTS=a,b   faults to run (default: ${FAULTS.join(', ')})

  --help       this text`;

async function main() {
  answerHelp(USAGE);
  const modes = (process.env.MODES ? process.env.MODES.split(',') : [...SYNC_MODES]) as SyncMode[];
  const faults = (process.env.FAULTS ? process.env.FAULTS.split(',') : FAULTS) as FaultName[];
  const unknown = [...modes.filter((m) => !SYNC_MODES.includes(m)), ...faults.filter((f) => !FAULTS.includes(f))];
  if (unknown.length > 0)
    throw new Error(
      `unknown MODES or FAULTS: ${unknown.join(', ')} (modes: ${SYNC_MODES.join(', ')}; faults: ${FAULTS.join(', ')})`,
    );
  const rows: Row[] = [];
  for (const fault of faults) {
    for (const topology of fault === 'failover' ? FAILOVER_TOPOLOGIES : (['standalone'] as TopologyKind[])) {
      for (const mode of modes) {
        process.stdout.write(`experiment: ${mode} / ${fault}${fault === 'failover' ? ` (${topology})` : ''} ... `);
        const row = await run(mode, fault, topology);
        rows.push(row);
        process.stdout.write(`${row.staleReads} stale reads, max window ${row.maxStaleWindow.toFixed(2)} s\n`);
      }
    }
  }
  const standalone = rows.filter((r) => r.fault !== 'failover');
  const failovers = rows.filter((r) => r.fault === 'failover');
  const date = new Date().toISOString();
  const dir = join(ROOT, 'reports', `experiment-${date.replace(/[:.]/g, '-')}`);
  mkdirSync(dir, { recursive: true });
  const header = `Run ${date} on ${cpus().length} cores (${cpus()[0]?.model ?? 'unknown CPU'}), Node ${process.version}; TTL ${TTL_SECONDS} s, probe 150 ops/s (80 % reads, 30 books, uniform, writes through book-2), seed ${SEED}, fault ${FAULT_SECONDS} s, then ${OBSERVE_SECONDS} s observed.`;
  writeFileSync(join(dir, 'results.json'), `${JSON.stringify({ date, rows }, null, 2)}\n`);
  const failoverSection =
    failovers.length > 0
      ? `## The Redis master killed (Sentinel and Cluster)\n\nSIGKILL of the master holding the channel, under the same probe traffic; failure detection after 1 s (Sentinel's down-after-milliseconds, the Cluster's node-timeout). "Stale reads after recovery": reads sent after every replica was back on the new master (trusting its cache, in the safer modes with no recovery started for two heartbeats, so every loss of the gap has shown) that returned a version older than one acknowledged before it was back.\n\n${failoverTable(failovers)}\n\n${failoverReading(failovers)}\n`
      : '';
  const standaloneSection = standalone.length > 0 ? `${table(standalone)}\n\n${reading(standalone)}\n\n` : '';
  const markdown = `# Sync modes through the faults (\`make experiment\`)\n\n${header}\n\n${standaloneSection}${failoverSection}`;
  writeFileSync(join(dir, 'table.md'), markdown);
  const allModes = modes.length === SYNC_MODES.length;
  const complete = allModes && faults.length === FAULTS.length;
  if (complete) writeFileSync(join(ROOT, 'docs/experiment.md'), markdown);
  if (allModes && faults.includes('failover')) writeReadmeBlock(failoverTable(failovers), date);
  process.stdout.write(`\n${markdown}\nwritten to ${dir}${complete ? ' and docs/experiment.md' : ''}\n`);
}

main().catch((error) => {
  process.stderr.write(`experiment failed: ${(error as Error).stack}\n`);
  process.exit(1);
});
