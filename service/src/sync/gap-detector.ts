export interface SequenceObservation {
  /** Messages from this origin that were sent but never reached us. */
  missed: number;
  /** The message repeats or precedes one already seen from the same (origin, epoch). */
  duplicate: boolean;
}

/**
 * Tracks the last sequence number seen per (origin, epoch). Every message an origin sends,
 * heartbeats included, takes the next number, so any jump is a count of lost messages.
 */
export class GapDetector {
  private readonly lastSeen = new Map<string, { epoch: string; seq: number }>();

  observe(origin: string, epoch: string, seq: number): SequenceObservation {
    const last = this.lastSeen.get(origin);
    if (last === undefined) {
      // First sight of this origin since we started: we cannot know what came before.
      this.lastSeen.set(origin, { epoch, seq });
      return { missed: 0, duplicate: false };
    }
    if (last.epoch !== epoch) {
      // The origin restarted while we listened: everything before this seq in its new epoch was lost.
      this.lastSeen.set(origin, { epoch, seq });
      return { missed: seq - 1, duplicate: false };
    }
    if (seq <= last.seq) return { missed: 0, duplicate: true };
    const missed = seq - last.seq - 1;
    last.seq = seq;
    return { missed, duplicate: false };
  }

  get origins(): number {
    return this.lastSeen.size;
  }
}
