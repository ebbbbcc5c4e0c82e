import { encodeEnvelope } from '../src/sync/envelope';
import { waitFor } from './processes';
import { subscriberClientId } from './redis-clients';
import type { Stack } from './stack';

/** The faults of the failure-modes table (docs/operations.md), as the demo injects them into a running stack. */
export const FAULTS = {
  kill: { label: 'kill', describe: (r: string) => `killed ${r} (SIGKILL)` },
  pause: { label: 'pause', describe: (r: string) => `paused ${r} (SIGSTOP)` },
  cut: { label: 'cut', describe: (r: string) => `cut ${r} off Redis` },
  'restart-redis': { label: 'restart Redis', describe: () => 'stopped Redis' },
  crash: { label: 'crash before publish', describe: (r: string) => `armed crash-before-publish on ${r}` },
  garbage: { label: 'garbage', describe: () => 'published garbage on the channel' },
  failover: { label: 'kill the master', describe: () => "killed the channel's Redis master (SIGKILL)" },
} as const;
export type FaultName = keyof typeof FAULTS;
export const isFaultName = (name: string): name is FaultName => Object.hasOwn(FAULTS, name);

/** Injects a fault on replica `i`; returns a description for the event log. */
export async function inject(stack: Stack, fault: FaultName, i: number): Promise<string> {
  const replica = stack.replicas[i]!;
  switch (fault) {
    case 'kill':
      await replica.process.stop('SIGKILL');
      break;
    case 'pause':
      replica.process.child.kill('SIGSTOP');
      break;
    case 'cut':
      await proxyOf(stack, i).cutOff();
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
      replica.process.child.kill('SIGCONT');
      return `resumed ${replica.id}`;
    case 'cut':
      await proxyOf(stack, i).restore();
      return `reconnected ${replica.id} to Redis`;
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

function topologyOf(stack: Stack) {
  if (!stack.servers) throw new Error('failover needs TOPOLOGY=sentinel or cluster (standalone Redis has no replica)');
  return stack.servers;
}

/**
 * Pauses replica `i` and fills Redis' output buffer for its subscriber (as heavy traffic would)
 * until Redis disconnects it: the "paused past the output-buffer limit" fault, in seconds.
 */
export async function pauseUntilCut(stack: Stack, i: number): Promise<void> {
  await inject(stack, 'pause', i);
  const filler = 'x'.repeat(70 * 1024);
  await waitFor(
    async () => {
      for (let n = 0; n < 50; n += 1) await stack.admin.publish(stack.channel, filler);
      return (await subscriberClientId(stack.admin, stack.replicas[i]!.id)) === undefined;
    },
    { timeoutMs: 30_000, intervalMs: 1, message: 'Redis cuts the paused subscriber' },
  );
}
