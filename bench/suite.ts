import { startRedisCluster } from '../service/local-stack/redis-topologies';
import { type RunResult, startLagBench, warmUp } from './lag/lag-bench';
import { PEER_SYSTEMS, type PeerRun, peerLag } from './lag/peer-lag';
import { rawPublishFloor } from './lag/receivers';
import { freshSideBySide, sideBySide } from './lag/side-by-side';
import { signingCost } from './lag/signing-cost';
import { type BenchPlan, type BenchResults, isSustained, LAG_VARIANTS, type ThroughputStep } from './plan';
import { cloneCost } from './read-path/clone-cost';
import { guardedHitCost } from './read-path/guarded-hit';
import { inZoneBench } from './read-path/in-zone';
import { memoryBench } from './read-path/memory';
import { coalescingBench } from './read-path/miss-coalescing';
import { hitPathCost, readCostBench, readPathBench } from './read-path/read-path';
import { tracingCostBench } from './read-path/tracing-cost';
import { receiveCost } from './receive/receive-cost';
import { receiveProfile } from './receive/receive-profile';
import { tagEvictionBench } from './receive/tag-eviction';
import { tailProfile } from './receive/tail-profile';
import { type BenchServers, startBenchServers } from './servers';

const log = (line: string) => process.stderr.write(`bench: ${line}\n`);

/** SPUBLISH on a 6-node Cluster against PUBLISH on the standalone server: same replicas count, rate and payloads. */
async function topologyLag(servers: BenchServers, plan: BenchPlan): Promise<BenchResults['topologies']> {
  log('starting a 6-node Redis Cluster');
  const cluster = await startRedisCluster();
  const results: BenchResults['topologies'] = [];
  const benches = {
    standalone: await startLagBench(servers, { coalesce: true, channel: `${servers.channel}-standalone` }),
    cluster: await startLagBench(servers, {
      coalesce: true,
      channel: `${servers.channel}-cluster`,
      redis: {
        topology: cluster.topology(),
        env: { REDIS_CLUSTER_NODES: cluster.env({ username: '', password: '' }).REDIS_CLUSTER_NODES! },
      },
    }),
  };
  try {
    await benches.standalone.scale(plan.throughputReplicas);
    await benches.cluster.scale(plan.throughputReplicas);
    // Unrecorded, as every other lag step: on a fresh Cluster, ioredis can send the first SPUBLISH
    // to a node that answers MOVED, and its retry lands after later messages (every replica counts
    // a gap although nothing was lost; docs/topologies.md). The rounds measure the settled state.
    log('lag on standalone and cluster Redis: warming up, unrecorded');
    for (const bench of Object.values(benches)) await warmUp(bench, 200);
    for (let i = 0; i < plan.topologyRepeats; i += 1) {
      for (const topology of ['standalone', 'cluster'] as const) {
        log(`lag on ${topology} Redis at ${plan.signingRate}/s, round ${i + 1}`);
        const run = await benches[topology].run(plan.signingRate, plan.stepSeconds);
        // Which sender's numbers were missed, as the replicas logged it.
        if (run.missed > 0)
          for (const output of benches[topology].outputs())
            for (const line of output.split('\n')) if (line.includes('missed')) log(`${topology}: ${line}`);
        results.push({ ...run, topology });
      }
    }
  } finally {
    await benches.standalone.stop();
    await benches.cluster.stop();
    await cluster.destroy();
  }
  return results;
}

/**
 * What coalescing costs a write's invalidation: the same replicas receiving from a writer that
 * coalesces and one that does not, interleaved, and the one that does not once more (an A/A
 * control: how far two runs of one setup differ).
 */
async function coalescingLagBench(servers: BenchServers, plan: BenchPlan): Promise<BenchResults['coalescingLag']> {
  const { rates, repeats, receivers, warmUpMessages } = plan.coalescingLag;
  const bench = await startLagBench(servers, { coalesce: true, signed: false, channel: `${servers.channel}-coalesce` });
  const WRITERS = ['on', 'off', 'control'] as const;
  const runs: NonNullable<BenchResults['coalescingLag']> = [];
  try {
    await bench.scale(receivers);
    if (warmUpMessages) {
      log(
        `lag with the writer coalescing and not: warming up the replicas, ${warmUpMessages} messages each, unrecorded`,
      );
      await warmUp(bench, warmUpMessages);
    }
    for (const rate of rates) {
      // Both writers run once unrecorded at each rate: the first run of fresh code is the JIT's.
      log(`lag with the writer coalescing and not at ${rate}/s, warm-up`);
      for (const coalesce of [true, false]) await bench.run(rate, 1, undefined, coalesce);
      for (let i = 0; i < repeats; i += 1) {
        log(`lag with the writer coalescing and not at ${rate}/s, round ${i + 1}`);
        // The order rotates, so none always runs on a machine another just left.
        for (let k = 0; k < WRITERS.length; k += 1) {
          const writer = WRITERS[(i + k) % WRITERS.length]!;
          const run = await bench.run(rate, plan.stepSeconds, undefined, writer === 'on');
          runs.push({ ...run, coalesce: writer === 'on', ...(writer === 'control' ? { control: true } : {}) });
        }
      }
    }
  } finally {
    await bench.stop();
  }
  return runs;
}

/** Every measurement of `make bench`, against real servers and replica processes. */
export async function runBench(plan: BenchPlan): Promise<BenchResults> {
  log('node-cache clone cost');
  const clone = cloneCost(plan.cloneRounds);
  log('hit path alone and with the metrics observer');
  const hitPath = hitPathCost(plan.hitRounds, plan.hitRepeats);
  const guardedHit = await guardedHitCost(plan.hitRounds, plan.hitRepeats);
  log('receive path per message');
  const receive = receiveCost(plan.receiveRounds);
  log(`memory at ${plan.memoryEntries} entries`);
  const memory = memoryBench(plan.memoryEntries);
  const servers = await startBenchServers();
  try {
    log('read path (autocannon)');
    const readPath = await readPathBench(servers, {
      durationSeconds: plan.readSeconds,
      connections: plan.connections,
      repeats: plan.readRepeats,
    });
    log('cached reads with default telemetry and with tracing off');
    const tracing = await tracingCostBench(servers, {
      repeats: plan.tracingRepeats,
      seconds: plan.tracingSeconds,
      connections: plan.connections,
    });
    log(`read path with Redis and MongoDB behind Toxiproxy (${plan.inZone.toxicMs} ms latency toxic)`);
    const inZone = await inZoneBench(servers, { ...plan.inZone, connections: plan.connections });
    log(
      `miss coalescing: a hot book read by ${plan.coalescing.replicas} replicas at ${plan.coalescing.readRate}/s each, rewritten every second`,
    );
    const coalescing = await coalescingBench(servers, plan.coalescing);
    log('read cost without HTTP');
    const readCost = await readCostBench(servers, plan.readCostRounds);

    const floor: BenchResults['floor'] = [];
    const lag: RunResult[] = [];
    const peers: PeerRun[] = [];
    const lagBench = await startLagBench(servers, { coalesce: true });
    try {
      for (const count of plan.replicaCounts) {
        await lagBench.scale(count);
        for (const rate of plan.rates) {
          for (let i = 0; i < plan.lagRepeats; i += 1) {
            log(`lag with ${count} receivers at ${rate}/s, round ${i + 1}: floor, service, ${PEER_SYSTEMS.join(', ')}`);
            floor.push({
              rate,
              receivers: count,
              ...(await rawPublishFloor(servers.redisUrl, rate, plan.stepSeconds, count)),
            });
            lag.push(await lagBench.run(rate, plan.stepSeconds));
            for (const system of PEER_SYSTEMS)
              peers.push(await peerLag(system, servers.redisUrl, count, rate, plan.stepSeconds));
          }
        }
      }
    } finally {
      await lagBench.stop();
    }

    const side = await sideBySide(servers, plan.side, log);
    const sideFresh = plan.sideFresh ? await freshSideBySide(servers, plan.sideFresh, log) : undefined;
    log(`one replica profiled while it receives ${plan.receiveProfile.rate}/s`);
    const profiled = await receiveProfile(servers, plan.receiveProfile);
    const tail = plan.tailProfile ? await tailProfile(servers, plan.tailProfile, log) : undefined;
    const coalescingLag = await coalescingLagBench(servers, plan);
    let tagEviction: BenchResults['tagEviction'];
    if (plan.tagEviction) {
      const { entries, receivers } = plan.tagEviction;
      log(`a tag invalidation evicting ${entries} entries on each of ${receivers} replicas`);
      tagEviction = await tagEvictionBench(servers, plan.tagEviction);
    }

    const throughput: ThroughputStep[] = [];
    for (const coalesce of [false, true]) {
      const bench = await startLagBench(servers, { coalesce });
      try {
        await bench.scale(plan.throughputReplicas);
        for (const rate of plan.throughputRates) {
          log(`throughput ${coalesce ? 'coalesced' : 'one message a write'} at ${rate}/s`);
          const step = await bench.run(rate, plan.stepSeconds);
          const sustained = isSustained(step);
          throughput.push({ ...step, coalesce, sustained });
          if (!sustained) break;
        }
      } finally {
        await bench.stop();
      }
    }
    log('signing: sign and verify per message');
    const cost = signingCost(plan.signingRounds);
    const signingLag: BenchResults['signing']['lag'] = [];
    const breakdown: BenchResults['breakdown'] = { floor: [], runs: [] };
    // Replicas as they run by default, unsigned, and unsigned with tracing off: what each costs
    // in lag, against the raw floor to as many bare subscribers, all interleaved.
    const benches = {
      signed: await startLagBench(servers, { coalesce: true, signed: true }),
      unsigned: await startLagBench(servers, { coalesce: true, signed: false, channel: `${servers.channel}-unsigned` }),
      bare: await startLagBench(servers, {
        coalesce: true,
        signed: false,
        channel: `${servers.channel}-bare`,
        env: { OTEL_SDK_DISABLED: 'true' },
      }),
    };
    try {
      for (const bench of Object.values(benches)) await bench.scale(plan.throughputReplicas);
      for (let i = 0; i < plan.signingRepeats; i += 1) {
        log(`lag signed, unsigned, unsigned and untraced, and the floor at ${plan.signingRate}/s, round ${i + 1}`);
        for (const variant of LAG_VARIANTS) {
          const run = await benches[variant].run(plan.signingRate, plan.stepSeconds);
          breakdown.runs.push({ ...run, variant });
          if (variant !== 'bare') signingLag.push({ ...run, signed: variant === 'signed' });
        }
        breakdown.floor.push(
          await rawPublishFloor(servers.redisUrl, plan.signingRate, plan.stepSeconds, plan.throughputReplicas),
        );
      }
    } finally {
      for (const bench of Object.values(benches)) await bench.stop();
    }
    const topologies = await topologyLag(servers, plan);
    return {
      date: new Date().toISOString(),
      node: process.version,
      signing: { cost, lag: signingLag },
      breakdown,
      topologies,
      tracing,
      hitPath,
      guardedHit,
      receive,
      inZone,
      coalescing,
      side,
      sideFresh,
      receiveProfile: profiled,
      tailProfile: tail,
      coalescingLag,
      tagEviction,
      plan,
      mongoKind: servers.mongoKind,
      clone,
      memory,
      readPath,
      readCost,
      floor,
      lag,
      peers,
      throughput,
    };
  } finally {
    await servers.stop();
  }
}
