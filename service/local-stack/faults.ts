import { readFileSync } from 'node:fs';
import { encodeEnvelope } from '@local-cache-sync/core/wire';
import { waitFor } from './processes';
import { subscriberBuffer } from './redis-clients';
import { type Stack, sumMetric } from './stack';

/** The faults of the failure-modes table (docs/operations.md), as the demo injects them into a running stack. */
export const FAULTS = {
  kill: { label: 'kill', describe: (r: string) => `killed ${r} (SIGKILL)` },
  pause: {
    label: 'pause past the buffer limit',
    describe: (r: string) => `paused ${r} (SIGSTOP) until Redis cut its subscriber`,
  },
  'short-pause': {
    label: 'short pause',
    describe: (r: string) => `paused ${r} (SIGSTOP); within the buffer limit Redis keeps its messages`,
  },
  cut: { label: 'cut', describe: (r: string) => `cut ${r} off Redis` },
  'restart-redis': { label: 'restart Redis', describe: () => 'stopped Redis' },
  crash: { label: 'crash before publish', describe: (r: string) => `armed crash-before-publish on ${r}` },
  garbage: { label: 'garbage', describe: () => 'published garbage on the channel' },
  failover: { label: 'kill the master', describe: () => "killed the channel's Redis master (SIGKILL)" },
  'db-down': { label: 'database down', describe: (r: string) => `cut ${r} off MongoDB` },
} as const;
export type FaultName = keyof typeof FAULTS;
export const isFaultName = (name: string): name is FaultName => Object.hasOwn(FAULTS, name);

/** How far a pause has got: bytes published towards the paused replica, and what Redis itself holds for it. */
export interface BufferProgress {
  seconds: number;
  /** Published on the channel since the pause (the filler); the kernel's socket buffers take the first megabytes. */
  sent: number;
  /** Redis' output buffer for the subscriber (CLIENT LIST omem): what the limit is checked against. */
  held: number;
  /** Redis has disconnected the subscriber. */
  cut: boolean;
}

/** Injects a fault on replica `i`; returns a description for the event log. */
export async function inject(
  stack: Stack,
  fault: FaultName,
  i: number,
  onBuffer?: (progress: BufferProgress) => void,
): Promise<string> {
  const replica = stack.replicas[i]!;
  switch (fault) {
    case 'kill':
      await replica.process.stop('SIGKILL');
      break;
    case 'pause': {
      const { seconds, sent } = await pauseUntilCut(stack, i, onBuffer);
      return `${FAULTS.pause.describe(replica.id)}: ${seconds.toFixed(1)} s, ${formatBytes(sent)} sent its way`;
    }
    case 'short-pause':
      replica.process.child.kill('SIGSTOP');
      break;
    case 'cut':
      await proxyOf(stack, i).cutOff();
      break;
    case 'db-down':
      await dbProxyOf(stack, i).cutOff();
      break;
    case 'restart-redis':
      await stack.redis.stop();
      break;
    case 'crash': {
      const response = await replica.chaos('crash-before-publish');
      if (!response.ok) throw new Error(`chaos switch refused: ${response.status}`);
      break;
    }
    case 'failover': {
      const { promotedAfterMs } = await topologyOf(stack).killMaster(stack.channel);
      return `${FAULTS.failover.describe()}; a replica took over after ${(promotedAfterMs / 1000).toFixed(1)} s`;
    }
    case 'garbage':
      for (const payload of [
        'book:1',
        '{"v":1,',
        encodeEnvelope({ v: 1, type: 'heartbeat', origin: 'x', epoch: 'e', seq: 1, publishedAt: 1 }).replace(
          '"v":1',
          '"v":9',
        ),
      ]) {
        await stack.admin.publish(stack.channel, payload);
      }
      break;
  }
  return FAULTS[fault].describe(replica.id);
}

/** Undoes a fault on replica `i` (a killed or crashed replica is started again, cold). */
export async function heal(stack: Stack, fault: FaultName, i: number): Promise<string> {
  const replica = stack.replicas[i]!;
  switch (fault) {
    case 'kill':
    case 'crash':
      if (!replica.alive()) await stack.restart(i);
      return `restarted ${replica.id}`;
    case 'pause':
    case 'short-pause':
      replica.process.child.kill('SIGCONT');
      return `resumed ${replica.id}`;
    case 'cut':
      await proxyOf(stack, i).restore();
      return `reconnected ${replica.id} to Redis`;
    case 'db-down':
      await dbProxyOf(stack, i).restore();
      return `reconnected ${replica.id} to MongoDB`;
    case 'restart-redis':
      await stack.redis.start();
      return 'started Redis again';
    case 'garbage':
      return 'garbage stopped';
    case 'failover':
      await topologyOf(stack).restartKilled();
      return 'started the old master again (it rejoins as a replica)';
  }
}

function proxyOf(stack: Stack, i: number) {
  const proxy = stack.replicas[i]!.proxy;
  if (!proxy) throw new Error('cut needs the standalone topology (a proxy between each replica and Redis)');
  return proxy;
}

function dbProxyOf(stack: Stack, i: number) {
  const proxy = stack.replicas[i]!.dbProxy;
  if (!proxy) throw new Error('db-down needs a stack started with databaseProxy (make demo does)');
  return proxy;
}

function topologyOf(stack: Stack) {
  if (!stack.servers) throw new Error('failover needs TOPOLOGY=sentinel or cluster (standalone Redis has no replica)');
  return stack.servers;
}

export const formatBytes = (bytes: number) =>
  bytes < 1024
    ? `${bytes} B`
    : bytes < 1024 * 1024
      ? `${(bytes / 1024).toFixed(0)} KB`
      : `${(bytes / 1048576).toFixed(1)} MB`;

/**
 * Pauses replica `i` and publishes 70 KB messages nobody can use (every other replica rejects them
 * as oversized, and counts them) until Redis disconnects its subscriber: the "paused past the
 * output-buffer limit" fault, in seconds. Ordinary traffic would get there too, in minutes: Redis
 * counts only what the kernel will not take, and the socket buffers between Redis and a paused
 * reader (and Toxiproxy's, in front of each stack replica) take megabytes first.
 */
export async function pauseUntilCut(
  stack: Stack,
  i: number,
  onBuffer: (progress: BufferProgress) => void = () => undefined,
): Promise<{ seconds: number; sent: number }> {
  const replica = stack.replicas[i]!;
  replica.process.child.kill('SIGSTOP');
  // A signal is delivered asynchronously: stopped means the kernel says so.
  await waitFor(() => stopped(replica.process.child.pid), {
    timeoutMs: 5000,
    intervalMs: 5,
    message: `${replica.id} stopped`,
  });
  const startedAt = Date.now();
  const elapsed = () => (Date.now() - startedAt) / 1000;
  const filler = 'x'.repeat(70 * 1024);
  let sent = 0;
  let held = 0;
  for (;;) {
    const now = await subscriberBuffer(stack.admin, replica.id);
    if (now === undefined) break;
    held = now;
    if (!stopped(replica.process.child.pid)) throw new Error(`${replica.id} was resumed before Redis cut it`);
    if (elapsed() > 60) throw new Error(`Redis did not cut the paused subscriber of ${replica.id} within 60 s`);
    onBuffer({ seconds: elapsed(), sent, held, cut: false });
    for (let n = 0; n < 8; n += 1) await stack.admin.publish(stack.channel, filler);
    sent += 8 * filler.length;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  onBuffer({ seconds: elapsed(), sent, held, cut: true });
  return { seconds: elapsed(), sent };
}

/** Whether a process is stopped (SIGSTOP): its state in /proc is T. */
function stopped(pid: number | undefined): boolean {
  try {
    return /^\d+ \(.*\) T/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

/** Two heartbeat intervals (1 s each, the stack's default). */
const QUIET_MS = 2000;

/**
 * Recovered, in the safer modes: every replica subscribed and trusting its cache, and no recovery
 * started for two heartbeat intervals. A message published while a replica was still resubscribing
 * is lost to it, and shows as a gap only with the sender's next message (a heartbeat at the latest);
 * on a loaded machine that can come after the replica first trusts its cache again.
 */
export async function settled(c: Stack): Promise<void> {
  let last = '';
  let since = Date.now();
  await waitFor(
    async () => {
      const now = [
        await sumMetric(c, 'cache_sync_recoveries_total'),
        await sumMetric(c, 'cache_sync_trusted'),
        await sumMetric(c, 'cache_invalidation_subscriber_up'),
      ].join(' ');
      if (now !== last) [last, since] = [now, Date.now()];
      return now.endsWith(` ${c.replicas.length} ${c.replicas.length}`) && Date.now() - since >= QUIET_MS;
    },
    { timeoutMs: 30_000, intervalMs: 100, message: 'every replica trusted, no recovery for two heartbeats' },
  );
}
