export type ReadResult = 'fresh' | 'stale' | 'error';

interface Ack {
  version: number;
  ackAt: number;
  /** When the probe sent the write (undefined for versions only seen in reads). */
  sentAt?: number;
}

interface Episode {
  /** The acknowledged version the replica failed to return. */
  version: number;
  ackAt: number;
  staleReads: number;
}

interface FreshRead {
  replica: string;
  version: number;
  receivedAt: number;
  ambiguous: boolean;
}

/** One stale read: when it was sent, and when the version it failed to return was acknowledged. */
export interface StaleRead {
  replica: string;
  id: string;
  sentAt: number;
  requiredAckAt: number;
}

export interface StaleWindow {
  replica: string;
  id: string;
  seconds: number;
  staleReads: number;
}

const ACKS_KEPT = 64;
const FRESH_READS_KEPT = 64;
const STALE_READS_KEPT = 100_000;

/**
 * What the probe knows for certain: the versions its own writes were acknowledged at, and the
 * versions its reads returned, and when. A read is stale when it returns a version older than one
 * acknowledged to, or returned to, the probe before the read was sent: either proves the newer
 * version was committed by then. (Reads matter for writes that commit without an acknowledgment,
 * such as a replica crashing between commit and response.)
 *
 * A fresh read is ambiguous when one of the probe's writes of a newer version was sent before the
 * read's response arrived: the replica may have served it after that write committed, which a
 * check inside the replica rightly calls stale while the probe cannot.
 */
/** A write acknowledged with a version no higher than one acknowledged before it was sent: the database lost a write. */
export interface LostWrite {
  id: string;
  /** The version acknowledged earlier, which a later write did not build on. */
  lostVersion: number;
  at: number;
}

export class GroundTruth {
  private readonly acks = new Map<string, Ack[]>();
  readonly lostWrites: LostWrite[] = [];
  private readonly episodes = new Map<string, Episode>();
  private readonly freshReads = new Map<string, FreshRead[]>();
  private readonly ambiguous = new Map<string, number>();
  readonly windows: StaleWindow[] = [];
  readonly staleReads: StaleRead[] = [];

  recordAck(id: string, version: number, ackAt: number, sentAt?: number): void {
    const list = this.acks.get(id) ?? [];
    if (sentAt !== undefined) {
      // Versions only grow: a write sent after version v was acknowledged must get more than v.
      const earlier = list.filter((a) => a.sentAt !== undefined && a.ackAt < sentAt && a.version >= version);
      if (earlier.length > 0) {
        this.lostWrites.push({ id, lostVersion: Math.max(...earlier.map((a) => a.version)), at: ackAt });
      }
    }
    list.push({ version, ackAt, sentAt });
    if (list.length > ACKS_KEPT) list.shift();
    this.acks.set(id, list);
    if (sentAt === undefined) return;
    for (const read of this.freshReads.get(id) ?? []) {
      if (!read.ambiguous && read.receivedAt > sentAt && read.version < version) this.markAmbiguous(read);
    }
  }

  /** The newest version of `id` acknowledged strictly before `at`. */
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

  ambiguousReads(replica: string): number {
    return this.ambiguous.get(replica) ?? 0;
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
      if (this.staleReads.length >= STALE_READS_KEPT) this.staleReads.splice(0, STALE_READS_KEPT / 2);
      this.staleReads.push({ replica, id, sentAt, requiredAckAt: required.ackAt });
      return { result: 'stale' };
    }
    this.rememberFresh(id, { replica, version, receivedAt, ambiguous: false });
    if (!required || version > required.version) this.recordAck(id, version, receivedAt);
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

  private rememberFresh(id: string, read: FreshRead): void {
    const overtaking = (this.acks.get(id) ?? []).some(
      (ack) => ack.sentAt !== undefined && ack.sentAt < read.receivedAt && ack.version > read.version,
    );
    if (overtaking) this.markAmbiguous(read);
    const list = this.freshReads.get(id) ?? [];
    list.push(read);
    if (list.length > FRESH_READS_KEPT) list.shift();
    this.freshReads.set(id, list);
  }

  private markAmbiguous(read: FreshRead): void {
    read.ambiguous = true;
    this.ambiguous.set(read.replica, this.ambiguousReads(read.replica) + 1);
  }
}
