export type ReadResult = 'fresh' | 'stale' | 'error';

interface Ack {
  version: number;
  ackAt: number;
}

interface Episode {
  /** The acknowledged version the replica failed to return. */
  version: number;
  ackAt: number;
  staleReads: number;
}

export interface StaleWindow {
  replica: string;
  id: string;
  seconds: number;
  staleReads: number;
}

const ACKS_KEPT = 64;

/**
 * What the probe knows for certain: the versions its own writes were acknowledged at, and when.
 * A read is stale when it returns a version older than one acknowledged before the read was sent.
 * A stale episode on a replica lasts from the acknowledgment of the version it failed to return
 * to the first read on that replica that returns that version or newer.
 */
export class GroundTruth {
  private readonly acks = new Map<string, Ack[]>();
  private readonly episodes = new Map<string, Episode>();
  readonly windows: StaleWindow[] = [];

  recordAck(id: string, version: number, ackAt: number): void {
    const list = this.acks.get(id) ?? [];
    list.push({ version, ackAt });
    if (list.length > ACKS_KEPT) list.shift();
    this.acks.set(id, list);
  }

  /** The newest version of `id` acknowledged strictly before `at`, or 0. */
  requiredVersion(id: string, at: number): Ack | undefined {
    let best: Ack | undefined;
    for (const ack of this.acks.get(id) ?? []) {
      if (ack.ackAt < at && (!best || ack.version > best.version)) best = ack;
    }
    return best;
  }

  latestVersion(id: string): number {
    return Math.max(0, ...(this.acks.get(id) ?? []).map((a) => a.version));
  }

  /** Classifies a read; a fresh read that ends a stale episode also returns the episode's window. */
  classify(
    replica: string,
    id: string,
    version: number,
    sentAt: number,
    receivedAt: number,
  ): { result: ReadResult; endedWindow?: StaleWindow } {
    const key = `${replica}\u0000${id}`;
    const required = this.requiredVersion(id, sentAt);
    const episode = this.episodes.get(key);
    if (required && version < required.version) {
      if (episode) episode.staleReads += 1;
      else this.episodes.set(key, { version: required.version, ackAt: required.ackAt, staleReads: 1 });
      return { result: 'stale' };
    }
    if (episode && version >= episode.version) {
      const endedWindow = { replica, id, seconds: (receivedAt - episode.ackAt) / 1000, staleReads: episode.staleReads };
      this.windows.push(endedWindow);
      this.episodes.delete(key);
      return { result: 'fresh', endedWindow };
    }
    return { result: 'fresh' };
  }

  /** Stale episodes not yet ended, with how long they have lasted at `now`. */
  openEpisodes(now: number): StaleWindow[] {
    return [...this.episodes.entries()].map(([key, episode]) => {
      const [replica, id] = key.split('\u0000') as [string, string];
      return { replica, id, seconds: (now - episode.ackAt) / 1000, staleReads: episode.staleReads };
    });
  }
}
