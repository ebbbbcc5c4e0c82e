import { join } from 'node:path';
import { createSyncedCache } from '@local-cache-sync/core';
import { preciseNow } from '@local-cache-sync/core/wire';
import { ROOT } from '../../service/local-stack/processes';
import { startReceivers } from '../lag/receivers';
import type { BenchServers } from '../servers';

const RECEIVER = join(ROOT, 'bench/receive/tag-receiver.cjs');

export interface TagEviction {
  entries: number;
  receivers: number;
  /** Per run: from the sender's handover (the message's publishedAt) to the last receiver's eviction done, ms. */
  handoverMs: number[];
  /** Per run: from the invalidateTags call (its INCR included) to the same moment, ms. */
  callMs: number[];
  /** Per run: entries evicted on each receiver (all of them, every run). */
  evicted: number[][];
}

interface Entry {
  id: string;
  version: number;
}

/**
 * Evicting one tag's entries everywhere: `receivers` replica processes (the library in stream
 * mode, signed, on real Redis) each hold `entries` entries carrying the tag (and one tag of their
 * own); a sender in this process invalidates the tag. Each run starts fresh receivers.
 */
export async function tagEvictionBench(
  servers: BenchServers,
  options: { entries: number; receivers: number; repeats: number },
): Promise<TagEviction> {
  const channel = `${servers.channel}-tags`;
  const sender = await createSyncedCache<Entry>({
    name: 'book',
    replicaId: 'tag-sender',
    bus: { redis: servers.redisUrl, channel },
    sync: { mode: 'stream' },
    signing: { keys: servers.signingKeys },
  });
  const result: TagEviction = {
    entries: options.entries,
    receivers: options.receivers,
    handoverMs: [],
    callMs: [],
    evicted: [],
  };
  try {
    for (let run = 0; run < options.repeats; run += 1) {
      const receivers = await startReceivers(
        Array.from({ length: options.receivers }, (_, i) => [
          RECEIVER,
          servers.redisUrl,
          channel,
          servers.signingKeys,
          String(options.entries),
          `tag-receiver-${run}-${i}`,
        ]),
      );
      const calledAt = preciseNow();
      await sender.invalidateTags(['author:bench']).catch((error) => {
        receivers.kill();
        throw error;
      });
      const done = (await receivers.results()) as { at: number; evicted: number; publishedAt: number }[];
      const last = Math.max(...done.map((d) => d.at));
      result.handoverMs.push(last - done[0]!.publishedAt);
      result.callMs.push(last - calledAt);
      result.evicted.push(done.map((d) => d.evicted));
    }
  } finally {
    await sender.close();
  }
  return result;
}
