import type { RedisTopology } from '@local-cache-sync/core';
import { InvalidationPublisher } from '@local-cache-sync/core/testing';
import { RedisTransport } from '@local-cache-sync/core/transport';
import { EnvelopeSigner, parseSigningKeys } from '@local-cache-sync/core/wire';
import { waitFor } from '../../service/local-stack/processes';
import type { ReplicaProcess } from '../../service/local-stack/replica-process';
import { sampleSum } from '../../service/local-stack/stack';
import type { BenchServers } from '../servers';
import { type LatencyStats, now, paced, stats } from './latency';

export interface RunResult extends LatencyStats {
  replicas: number;
  /** Invalidations per second asked for, and what the publisher really sent. */
  rate: number;
  achievedRate: number;
  /** Messages on the channel (fewer than invalidations when coalesced). */
  messages: number;
  /**
   * The pacer's turns that wrote (one synchronous burst each): coalescing sends a turn's first
   * write alone and the rest in one message (up to 256 keys), so at most two messages a turn here.
   */
  turns?: number;
  /** Sequence gaps the replicas counted, and invalidations that never arrived. */
  missed: number;
  lost: number;
  /**
   * What can explain a gap, counted over the run: failed publishes, the replicas' and this
   * publisher's (a sequence number used by a message that never went out), and the replicas'
   * subscriber reconnects.
   */
  publishErrors?: number;
  /**
   * Failed publishes since the replicas and this publisher started: a heartbeat that failed before
   * the run (a Cluster still settling) used a sequence number whose gap shows only at that origin's
   * next message, inside the run.
   */
  publishErrorsSinceStart?: number;
  reconnects?: number;
  /** From the moment the writer handed the change over (where the peers' clocks start) to the eviction. */
  fromHandover?: LatencyStats;
  /** Send side: from the handover to the message's PUBLISH on the socket. */
  sendSide?: LatencyStats;
  /** The receivers' CPU (process_cpu_seconds_total) and V8 heap allocated per invalidation applied. */
  cpuUsPerMessage?: number;
  heapBytesPerMessage?: number;
}

/** What a replica's /bench/lag/take answers (service/src/http/bench-routes.ts). */
interface Taken {
  seconds: number[];
  sinceCommit: number[];
  allocatedBytes: number;
  messages: number;
}

/** Milliseconds from each invalidation's handover (its committedAt) to its payload reaching the transport. */
function sendSide(wire: [string, number][]): number[] {
  const out: number[] = [];
  for (const [payload, at] of wire) {
    const message = JSON.parse(payload) as { committedAt?: number; items?: { committedAt: number }[] };
    for (const item of message.items ?? (message.committedAt === undefined ? [] : [message])) {
      out.push(at - item.committedAt!);
    }
  }
  return out;
}

export interface LagBench {
  /** Grows (or shrinks) the set of listening replica processes to `count`. */
  scale(count: number): Promise<void>;
  /** What each replica printed so far. */
  outputs(): string[];
  /** The replicas' process ids. */
  pids(): number[];
  /**
   * `startAt` (epoch ms): when to start writing, to run side by side with other systems.
   * `coalesce`: the writer coalescing or not (by default as the bench was started).
   */
  run(rate: number, seconds: number, startAt?: number, coalesce?: boolean): Promise<RunResult>;
  stop(): Promise<void>;
}

/**
 * The service's publish-to-evict lag: this process publishes with the service's own publisher
 * (envelope v1, sequence numbers, membership), and real replica processes apply the messages and
 * record each lag exactly (BENCH_ROUTES); nothing is cached, so only the sync path is measured.
 */
/** The warm-up's rate: several writes a millisecond, so coalesced batches are compiled too. */
const WARM_UP_RATE = 2000;

/**
 * Sends `messages` to each of the bench's replicas, unrecorded. A fresh replica's CPU per message
 * fell from about 95 to 50 µs over its first 20,000 messages (V8 compiling on background threads,
 * counted as the process's CPU), so runs on fresh replicas drift; a production replica is long-lived.
 */
export async function warmUp(bench: LagBench, messages: number): Promise<void> {
  await bench.run(WARM_UP_RATE, Math.max(1, Math.ceil(messages / WARM_UP_RATE)));
}

/** `signed` (the default) signs every message and starts the replicas with the run's keys. */
/** How long before a run's start its CPU and heap meters start (the peers' receivers' too, see peers.ts). */
export const METER_LEAD_MS = 100;

export async function startLagBench(
  servers: BenchServers,
  options: {
    coalesce: boolean;
    signed?: boolean;
    channel?: string;
    /** Another Redis topology than the bench's standalone server, and the replicas' variables for it. */
    redis?: { topology: RedisTopology; env: Record<string, string> };
    /** More variables for the replicas. */
    env?: Record<string, string>;
    /** Arguments to node for every replica (such as --cpu-prof). */
    nodeArgs?: string[];
  },
): Promise<LagBench> {
  const signed = options.signed ?? true;
  const channel = options.channel ?? servers.channel;
  const replicas: ReplicaProcess[] = [];
  const transport = new RedisTransport({
    topology: options.redis?.topology ?? { kind: 'standalone', url: servers.redisUrl },
    channel,
    replicaId: 'bench',
    commandTimeoutMs: 10_000,
  });
  await transport.connect();
  let messages = 0;
  let ownPublishErrors = 0;
  const signer = signed ? new EnvelopeSigner(parseSigningKeys(servers.signingKeys)) : undefined;
  // Never subscribed, so not a member: the replicas' heartbeats are not expected to reach it.
  const makePublisher = (coalesce: boolean, origin: string) => {
    let lastSeq = 0;
    return new InvalidationPublisher({
      transport,
      // The items of a coalesced message share its sequence number: count messages, not invalidations.
      events: {
        onPublished: ({ seq }) => {
          if (seq !== lastSeq) messages += 1;
          lastSeq = seq;
        },
        onError: () => {
          ownPublishErrors += 1;
        },
      },
      membership: transport.membership(),
      channel,
      cache: 'book',
      origin,
      heartbeatIntervalMs: 1000,
      memberTimeoutMs: 15_000,
      coalesce,
      signer,
    });
  };
  // One writer coalescing as asked, and another that does the opposite, made on first use (another
  // origin, so each keeps its own sequence): runs can compare the two on the same replicas.
  const publishers = new Map<boolean, InvalidationPublisher>([
    [options.coalesce, makePublisher(options.coalesce, 'bench')],
  ]);
  const publisherFor = (coalesce: boolean) => {
    if (!publishers.has(coalesce)) publishers.set(coalesce, makePublisher(coalesce, 'bench-other'));
    return publishers.get(coalesce)!;
  };
  // The counters a run reads, from one scrape of each replica: every scrape renders the whole
  // registry, and the replicas' CPU and heap over the run are measured.
  const totals = async () => {
    const pages = await Promise.all(replicas.map(async (r) => (await fetch(`${r.url}/metrics`)).text()));
    const sum = (name: string) => pages.reduce((n, page) => n + sampleSum(page, name), 0);
    return {
      missed: sum('cache_invalidations_missed_total'),
      received: sum('cache_invalidations_received_total'),
      publishErrors: sum('cache_invalidation_publish_errors_total') + ownPublishErrors,
      reconnects: sum('cache_invalidation_subscriber_reconnects_total'),
      cpu: sum('process_cpu_seconds_total'),
    };
  };
  const takeLags = async (replica: ReplicaProcess) =>
    (await (await fetch(`${replica.url}/bench/lag/take`, { method: 'POST' })).json()) as Taken;
  // The send side: when each payload reached the transport (ioredis writes it to the socket at once).
  let onTheWire: [string, number][] | undefined;
  const send = transport.publish.bind(transport);
  transport.publish = (payload: string) => {
    onTheWire?.push([payload, now()]);
    return send(payload);
  };
  let seq = 0;

  return {
    async scale(count) {
      while (replicas.length > count) await replicas.pop()!.stop();
      const starting: Promise<ReplicaProcess>[] = [];
      for (let i = replicas.length; i < count; i += 1)
        starting.push(
          servers.replica(
            `bench-${i + 1}`,
            {
              BENCH_ROUTES: '1',
              INVALIDATION_CHANNEL: channel,
              ...(options.redis ? { REDIS_URL: '', ...options.redis.env } : {}),
              SYNC_SIGNING_KEYS: signed ? servers.signingKeys : '',
              ...options.env,
            },
            options.nodeArgs,
          ),
        );
      replicas.push(...(await Promise.all(starting)));
    },
    outputs: () => replicas.map((r) => r.output()),
    pids: () => replicas.map((r) => r.child.pid!),
    async run(rate, seconds, startAt, coalesce = options.coalesce) {
      const publisher = publisherFor(coalesce);
      // A run at once waits for its start: that idle lead is not the run's CPU (the peers' receivers
      // start their meters as late).
      const lead = startAt === undefined ? 0 : startAt - METER_LEAD_MS - now();
      if (lead > 0) await new Promise((resolve) => setTimeout(resolve, lead));
      for (const replica of replicas) await takeLags(replica); // drops what earlier runs left
      const before = await totals();
      const received0 = before.received;
      messages = 0;
      let failed = 0;
      onTheWire = [];
      const { sent, elapsed, turns } = await paced(
        rate,
        seconds,
        (due) => {
          for (let i = 0; i < due; i += 1) {
            seq += 1;
            const id = seq.toString(16).padStart(24, '0');
            // committedAt is the handover: the replicas time the eviction from it too.
            publisher
              .publish({ keys: [`id:${id}`], id, version: 2, op: 'update', committedAt: now() })
              .catch(() => (failed += 1));
          }
        },
        startAt,
      );
      const wire = onTheWire;
      onTheWire = undefined;
      // A heartbeat after the last write, so a lost tail shows up as a gap too.
      await publisher.heartbeat();
      const expected = received0 + (sent - failed) * replicas.length;
      await waitFor(async () => (await totals()).received >= expected, {
        timeoutMs: 15_000,
        intervalMs: 200,
      }).catch(
        () => undefined, // what never arrived is reported as lost
      );
      const after = await totals();
      const received = after.received - received0;
      const cpuSeconds = after.cpu - before.cpu;
      const lags: number[] = [];
      const fromHandover: number[] = [];
      let allocatedBytes = 0;
      let applied = 0;
      for (const replica of replicas) {
        const taken = await takeLags(replica);
        for (const s of taken.seconds) lags.push(s * 1000);
        for (const s of taken.sinceCommit) fromHandover.push(s * 1000);
        allocatedBytes += taken.allocatedBytes;
        applied += taken.messages;
      }
      return {
        replicas: replicas.length,
        rate,
        achievedRate: sent / elapsed,
        messages,
        turns,
        missed: after.missed - before.missed,
        lost: sent * replicas.length - received + failed * replicas.length,
        publishErrors: after.publishErrors - before.publishErrors,
        publishErrorsSinceStart: after.publishErrors,
        reconnects: after.reconnects - before.reconnects,
        ...stats(lags),
        fromHandover: stats(fromHandover),
        sendSide: stats(sendSide(wire)),
        cpuUsPerMessage: received > 0 ? (cpuSeconds * 1e6) / received : Number.NaN,
        heapBytesPerMessage: applied > 0 ? allocatedBytes / applied : Number.NaN,
      };
    },
    async stop() {
      await Promise.all(replicas.splice(0).map((r) => r.stop()));
      for (const publisher of publishers.values()) await publisher.stop();
      await transport.close();
    },
  };
}
