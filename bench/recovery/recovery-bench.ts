import { type ChildProcessByStdio, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { createSyncedCache, type SyncMode } from '@local-cache-sync/core';
import { Redis } from 'ioredis';
import { ROOT, type ServerProcess, startRedis, waitFor } from '../../service/local-stack/processes';
import { freshSigningKeys } from '../../service/local-stack/signing-keys';
import { type ToxicProxy, Toxiproxy } from '../../service/local-stack/toxiproxy';
import { now, stats } from '../lag/latency';

export type RecoverySystem = SyncMode | 'node-redis';
export type RecoveryFault = 'redis-restart' | 'cut';
export const RECOVERY_SYSTEMS: RecoverySystem[] = ['pubsub', 'pubsub-flush', 'stream', 'node-redis'];
export const RECOVERY_FAULTS: RecoveryFault[] = ['redis-restart', 'cut'];

export interface RecoveryPlan {
  replicas: number;
  /** Entries each replica holds (every key of the source). */
  entries: number;
  /** Reads per second per replica, of uniformly random keys. */
  readRate: number;
  /** Writes per second (a new version of a random key), from a writer outside the replicas. */
  writeRate: number;
  /** Seconds of steady state before the fault (the last `windowSeconds` of it are the baseline). */
  steadySeconds: number;
  windowSeconds: number;
  cutSeconds: number;
}

export const RECOVERY_PLAN: RecoveryPlan = {
  replicas: 4,
  entries: 10_000,
  readRate: 200,
  writeRate: 10,
  steadySeconds: 15,
  windowSeconds: 10,
  cutSeconds: 5,
};

/** Reads and source reads over one window, summed over replicas. */
export interface RecoveryWindow {
  reads: number;
  errors: number;
  sourceReads: number;
  p50Ms: number;
  p99Ms: number;
}

export interface RecoveryRun {
  system: RecoverySystem;
  fault: RecoveryFault;
  /** The `windowSeconds` before the fault, and the `windowSeconds` after it healed. */
  steady: RecoveryWindow;
  after: RecoveryWindow;
  /** Reads that failed or took over 1 s while the fault lasted. */
  errorsDuringFault: number;
  /** Entries held just before the fault, and the fewest held from the fault to the window's end (summed over replicas). */
  heldBefore: number;
  heldLeast: number;
  /** The most source reads of one key in one replica after the heal (this library only: miss coalescing). */
  maxReadsPerKey?: number;
}

interface Report {
  reads: [number, number, number][];
  samples: [number, number, number][];
  maxPerKey: number | null;
}

/** One replica process of the bench, fed commands on stdin (see reading.cjs). */
class Reader {
  private output = '';
  private readonly closed: Promise<unknown>;

  constructor(private readonly child: ChildProcessByStdio<Writable, Readable, null>) {
    child.stdout.on('data', (chunk) => {
      this.output += chunk;
    });
    this.closed = new Promise((resolve) => child.once('close', resolve));
  }

  ready(): boolean {
    if (this.child.exitCode !== null) throw new Error(`a recovery reader exited: ${this.output}`);
    return this.output.startsWith('ready\n');
  }

  send(line: string): void {
    this.child.stdin.write(`${line}\n`);
  }

  async report(): Promise<Report> {
    this.send('report');
    await this.closed;
    return JSON.parse(this.output.slice('ready\n'.length)) as Report;
  }

  kill(): void {
    this.child.kill();
  }
}

/** The source: `entries` keys, each a JSON {id, version}; and the writer that moves them on. */
interface Writer {
  write(): Promise<void>;
  close(): Promise<void>;
}

async function startWriter(system: RecoverySystem, url: string, channel: string, keys: string, entries: number) {
  const redis = new Redis(url);
  redis.on('error', () => undefined);
  const versions = new Array<number>(entries).fill(1);
  // This library's writer announces every write (signed, in the replicas' mode); node-redis's
  // readers hear of a SET from Redis itself (tracking).
  const announcer =
    system === 'node-redis'
      ? undefined
      : await createSyncedCache({
          name: 'rec',
          replicaId: 'writer',
          bus: { redis: url, channel },
          sync: { mode: system },
          signing: { keys },
        });
  const writer: Writer = {
    async write() {
      const i = Math.floor(Math.random() * entries);
      versions[i]! += 1;
      const version = versions[i]!;
      await redis.set(`rec:${i}`, JSON.stringify({ id: String(i), version }));
      await announcer?.announce({ keys: [`rec:${i}`], id: String(i), version, op: 'update' });
    },
    async close() {
      await announcer?.close();
      redis.disconnect();
    },
  };
  return writer;
}

function windowOf(reports: Report[], from: number, to: number): RecoveryWindow {
  const reads = reports.flatMap((r) => r.reads.filter(([t]) => t >= from && t < to));
  const ok = stats(reads.filter(([, , good]) => good === 1).map(([, ms]) => ms));
  // Source reads so far at a moment: the last sample taken at or before it.
  const sourceAt = (r: Report, t: number) => r.samples.filter(([at]) => at <= t).at(-1)?.[1] ?? 0;
  return {
    reads: reads.length,
    errors: reads.length - ok.count,
    sourceReads: reports.reduce((n, r) => n + sourceAt(r, to) - sourceAt(r, from), 0),
    p50Ms: ok.p50Ms,
    p99Ms: ok.p99Ms,
  };
}

/**
 * One system through one fault: `replicas` reader processes, each holding every entry of the
 * source and reading them at a steady rate, a writer moving random keys on; then the fault, and
 * the 10 s after it healed against the 10 s before it. The source is the same Redis as the bus
 * (node-redis client-side caching caches Redis itself), kept on disk, so a restart keeps it; each
 * reader reaches Redis through its own Toxiproxy proxy, and the cut is of the first reader's.
 */
export async function recoveryRun(
  redis: ServerProcess & { url: string },
  proxies: ToxicProxy[],
  system: RecoverySystem,
  fault: RecoveryFault,
  plan: RecoveryPlan = RECOVERY_PLAN,
): Promise<RecoveryRun> {
  const channel = `rec-${randomBytes(4).toString('hex')}`;
  const keys = freshSigningKeys('recovery');
  await fillSource(redis.url, plan.entries);
  const readers = proxies.slice(0, plan.replicas).map((proxy, i) => {
    const url = `redis://127.0.0.1:${proxy.port}`;
    const args =
      system === 'node-redis'
        ? [join(ROOT, 'bench/peers/csc-reader.mjs'), url, String(plan.entries), String(plan.readRate)]
        : [
            join(ROOT, 'bench/recovery/our-reader.cjs'),
            ...[url, channel, keys, system, String(plan.entries), String(plan.readRate), `reader-${i + 1}`],
          ];
    return new Reader(spawn(process.execPath, args, { stdio: ['pipe', 'pipe', 'inherit'] }));
  });
  const writer = await startWriter(system, redis.url, channel, keys, plan.entries);
  let writing: NodeJS.Timeout | undefined;
  try {
    await waitFor(() => readers.every((r) => r.ready()), { timeoutMs: 60_000, message: 'recovery readers ready' });
    writing = setInterval(() => void writer.write().catch(() => undefined), 1000 / plan.writeRate);
    await sleep(plan.steadySeconds * 1000);
    const faultAt = now();
    if (fault === 'redis-restart') await redis.restart();
    else {
      await proxies[0]!.cutOff();
      await sleep(plan.cutSeconds * 1000);
      await proxies[0]!.restore();
    }
    const healedAt = now();
    for (const reader of readers) reader.send('window');
    await sleep(plan.windowSeconds * 1000);
    const end = now();
    clearInterval(writing);
    const reports = await Promise.all(readers.map((r) => r.report()));
    const heldAt = (r: Report, t: number) => r.samples.filter(([at]) => at <= t).at(-1)?.[2] ?? 0;
    const least = (r: Report) =>
      Math.min(...r.samples.filter(([at]) => at >= faultAt && at <= end).map(([, , n]) => n));
    const perKey = reports.map((r) => r.maxPerKey).filter((n): n is number => n !== null);
    return {
      system,
      fault,
      steady: windowOf(reports, faultAt - plan.windowSeconds * 1000, faultAt),
      after: windowOf(reports, healedAt, healedAt + plan.windowSeconds * 1000),
      errorsDuringFault: windowOf(reports, faultAt, healedAt).errors,
      heldBefore: reports.reduce((n, r) => n + heldAt(r, faultAt), 0),
      heldLeast: reports.reduce((n, r) => n + least(r), 0),
      ...(perKey.length > 0 && { maxReadsPerKey: Math.max(...perKey) }),
    };
  } finally {
    clearInterval(writing);
    for (const reader of readers) reader.kill();
    await writer.close();
  }
}

/** Every key of the source at version 1, as each run's writer starts counting. */
async function fillSource(url: string, entries: number): Promise<void> {
  const admin = new Redis(url);
  try {
    const pipeline = admin.pipeline();
    for (let i = 0; i < entries; i += 1) pipeline.set(`rec:${i}`, JSON.stringify({ id: String(i), version: 1 }));
    await pipeline.exec();
  } finally {
    admin.disconnect();
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The servers every recovery run shares: Redis kept on disk (appendfsync always) with the source's keys, and a proxy per reader. */
export async function startRecoveryServers(plan: RecoveryPlan = RECOVERY_PLAN) {
  const redis = await startRedis(['--appendonly', 'yes', '--appendfsync', 'always']);
  const toxiproxy = await Toxiproxy.start();
  const proxies: ToxicProxy[] = [];
  for (let i = 0; i < plan.replicas; i += 1) proxies.push(await toxiproxy.proxy(`recovery-${i + 1}`, redis.port));
  return {
    redis,
    proxies,
    async stop() {
      await toxiproxy.destroy();
      await redis.destroy();
    },
  };
}
