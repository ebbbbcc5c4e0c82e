import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { ROOT, waitFor } from '../../service/local-stack/processes';
import { type LatencyStats, now, paced, stats } from './latency';

export interface Receivers {
  /** Waits for every receiver to exit and returns what each printed after "ready" (JSON). */
  results(): Promise<unknown[]>;
  kill(): void;
}

/**
 * Starts one receiving process per argument list (node <args>) and waits until each has printed
 * "ready", calling `poke` every 100 ms meanwhile (for receivers that are ready once a message got through).
 */
export async function startReceivers(argsList: string[][], poke?: () => unknown): Promise<Receivers> {
  const children = argsList.map((args) => spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] }));
  const outputs = children.map((child) => {
    let text = '';
    child.stdout.on('data', (chunk) => (text += chunk));
    return () => text;
  });
  // 'close', not 'exit': a child's last output may still be on its way when it has exited.
  const exited = children.map((child) => new Promise((resolve) => child.once('close', resolve)));
  const kill = () => {
    for (const child of children) child.kill();
  };
  const poking = poke && setInterval(poke, 100);
  try {
    await waitFor(() => outputs.every((out) => out().startsWith('ready\n')), {
      timeoutMs: 30_000,
      message: `${argsList.length} receivers ready`,
    });
  } catch (error) {
    kill();
    throw error;
  } finally {
    clearInterval(poking);
  }
  return {
    async results() {
      await Promise.all(exited);
      return outputs.map((out) => JSON.parse(out().slice('ready\n'.length)) as unknown);
    },
    kill,
  };
}

/**
 * The floor: a raw PUBLISH from this process to `receivers` bare subscriber processes (plain
 * ioredis, nothing else), message to message, so the floor pays the same process count and
 * scheduling as the replicas it is compared with.
 */
export async function rawPublishFloor(
  redisUrl: string,
  rate: number,
  seconds: number,
  receivers = 1,
): Promise<LatencyStats> {
  const channel = `floor-${randomBytes(4).toString('hex')}`;
  const publisher = new Redis(redisUrl);
  const script = join(ROOT, 'bench/lag/raw-subscriber.cjs');
  try {
    const started = await startReceivers(Array.from({ length: receivers }, () => [script, redisUrl, channel]));
    try {
      // A payload the size of an invalidation envelope.
      const padding = 'x'.repeat(300);
      const { sent } = await paced(rate, seconds, (due) => {
        for (let i = 0; i < due; i += 1) void publisher.publish(channel, `${now()} ${padding}`);
      });
      // Pub/Sub keeps order per connection: a subscriber that sees "end" has seen everything before it.
      await publisher.publish(channel, `${now()} end`);
      const lags = (await started.results()).flatMap((out) => (out as number[]).slice(0, sent));
      if (lags.length < sent * receivers)
        throw new Error(`raw floor lost messages: ${lags.length} of ${sent * receivers}`);
      return stats(lags);
    } finally {
      started.kill();
    }
  } finally {
    publisher.disconnect();
  }
}
