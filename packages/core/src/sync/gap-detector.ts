export type SequenceVerdict =
  /** Apply it: the next number, or after a gap (`missed` > 0), or a number skipped earlier that arrives late. */
  | { kind: 'accepted'; missed: number; late: boolean }
  /** Seen already (or too far behind to know): ignore it. */
  | { kind: 'duplicate' }
  /** Implausibly far ahead: held back, not applied, until a next message confirms it. */
  | { kind: 'held' };

export interface GapDetectorOptions {
  /** Origins tracked at most; the least recently heard is forgotten first. */
  maxOrigins?: number;
  /** An origin silent this long is forgotten (a restarted or removed replica). */
  forgetAfterMs?: number;
  /** The fastest a real sender numbers its messages: bounds how far a confirmed jump may go. */
  maxMessagesPerSecond?: number;
  now?: () => number;
}

/** Numbers a stream remembers below its highest: duplicates and late arrivals are told apart within it. */
const WINDOW = 4096;
/** A jump past this many numbers at once is held until confirmed. */
export const MAX_JUMP = WINDOW - 1;
const BRANCHES_PER_EPOCH = 2;
const EPOCHS_PER_ORIGIN = 4;

/** One numbered sequence: its highest number and which of the WINDOW numbers below it were seen. */
class Sequence {
  private readonly seen = new Uint32Array(WINDOW / 32);
  lastAt: number;

  constructor(
    public high: number,
    now: number,
  ) {
    this.lastAt = now;
    this.mark(high);
  }

  /** Whether `seq` belongs here: within the window below the highest, or at most MAX_JUMP above it. */
  fits(seq: number): boolean {
    return seq > this.high - WINDOW && seq <= this.high + MAX_JUMP + 1;
  }

  has(seq: number): boolean {
    const i = seq % WINDOW;
    return ((this.seen[i >>> 5]! >>> (i & 31)) & 1) === 1;
  }

  mark(seq: number): void {
    const i = seq % WINDOW;
    this.seen[i >>> 5]! |= 1 << (i & 31);
  }

  /** Moves the highest to `seq`; the numbers skipped are not seen (yet). Returns how many were skipped. */
  advance(seq: number): number {
    const skipped = seq - this.high - 1;
    if (skipped >= WINDOW) this.seen.fill(0);
    else
      for (let s = this.high + 1; s < seq; s += 1) {
        const i = s % WINDOW;
        this.seen[i >>> 5]! &= ~(1 << (i & 31));
      }
    this.high = seq;
    this.mark(seq);
    return skipped;
  }
}

interface OriginState<T> {
  /** Per epoch, up to BRANCHES_PER_EPOCH sequences, most recently used last. */
  epochs: Map<string, Sequence[]>;
  held?: { epoch: string; seq: number; value?: T };
  /** Last heard, and last heard with a message that was accepted. */
  lastAt: number;
  acceptedAt: number;
}

/**
 * Tracks what each sender (origin) numbered, per process start (epoch). Every message a sender
 * sends, heartbeats included, takes the next number, so a jump is a count of lost messages.
 *
 * Sender-supplied numbers are not trusted (anyone on the channel can publish): no single message
 * can make real ones that follow look like duplicates, or add an absurd count to `missed`.
 * - A jump of at most MAX_JUMP is taken as a loss; numbers it skipped that arrive later are
 *   applied as late (Redis delivers in order, so only a forged jump ahead makes real ones late).
 * - A bigger jump is held back; the next message confirms it only if it follows it and the jump
 *   fits the time since the sender was last heard at `maxMessagesPerSecond`. A confirmed jump opens
 *   a second sequence for that epoch while the first stays open, so real messages still fit.
 * - State is bounded: origins (least recently heard forgotten first, and after `forgetAfterMs`),
 *   epochs per origin, sequences per epoch, one held message per origin.
 */
export class GapDetector<T = unknown> {
  private readonly origins = new Map<string, OriginState<T>>();
  private readonly maxOrigins: number;
  private readonly forgetAfterMs: number;
  private readonly maxRate: number;
  private readonly now: () => number;
  private nextSweep = 0;
  /** The origin heard last, already at the end of `origins`: most messages come from it again. */
  private newest?: string;

  constructor(options: GapDetectorOptions = {}) {
    this.maxOrigins = options.maxOrigins ?? 1024;
    this.forgetAfterMs = options.forgetAfterMs ?? 10 * 60_000;
    this.maxRate = options.maxMessagesPerSecond ?? 100_000;
    this.now = options.now ?? Date.now;
  }

  /**
   * Judges message `seq` of (origin, epoch). `value` is kept if the message is held; when a later
   * message confirms it, it comes back in `released`, to be applied first.
   */
  observe(origin: string, epoch: string, seq: number, value?: T): SequenceVerdict & { released?: T } {
    const now = this.now();
    this.sweep(now);
    let state = this.origins.get(origin);
    if (!state) {
      while (this.origins.size >= this.maxOrigins) this.origins.delete(this.origins.keys().next().value as string);
      state = { epochs: new Map(), lastAt: now, acceptedAt: now };
      this.origins.set(origin, state);
    } else if (origin !== this.newest) {
      this.origins.delete(origin); // re-inserted: the map stays in least-recently-heard order
      this.origins.set(origin, state);
    }
    this.newest = origin;
    state.lastAt = now;
    const verdict = this.judge(state, epoch, seq, value, now);
    if (verdict.kind === 'accepted') state.acceptedAt = now;
    return verdict;
  }

  private judge(
    state: OriginState<T>,
    epoch: string,
    seq: number,
    value: T | undefined,
    now: number,
  ): SequenceVerdict & { released?: T } {
    const firstSight = state.epochs.size === 0;

    const sequences = state.epochs.get(epoch);
    let sequence: Sequence | undefined;
    for (const s of sequences ?? NO_SEQUENCES) if (s.fits(seq)) sequence ??= s;
    if (sequence) {
      touch(sequences!, sequence);
      sequence.lastAt = now;
      if (seq <= sequence.high) {
        if (seq <= sequence.high - WINDOW || sequence.has(seq)) return { kind: 'duplicate' };
        sequence.mark(seq);
        return { kind: 'accepted', missed: 0, late: true };
      }
      if (state.held?.epoch === epoch) state.held = undefined;
      const missed = sequence.advance(seq);
      return missed === 0 ? IN_ORDER : { kind: 'accepted', missed, late: false };
    }
    if (firstSight) {
      // Nothing known of this origin: we cannot know what it sent before.
      this.openSequence(state, epoch, new Sequence(seq, now));
      return { kind: 'accepted', missed: 0, late: false };
    }
    if (!sequences && seq - 1 <= MAX_JUMP) {
      // A known origin restarted while we listened: what it sent before this number was lost.
      this.openSequence(state, epoch, new Sequence(seq, now));
      return { kind: 'accepted', missed: seq - 1, late: false };
    }

    const held = state.held;
    if (held && held.epoch === epoch && seq > held.seq && seq - held.seq - 1 <= MAX_JUMP) {
      const from = sequences ? Math.max(...sequences.map((s) => s.high)) : 0;
      const lastHeard = sequences ? Math.max(...sequences.map((s) => s.lastAt)) : state.acceptedAt;
      if (held.seq - from <= ((now - lastHeard) / 1000) * this.maxRate + MAX_JUMP) {
        state.held = undefined;
        const opened = new Sequence(held.seq, now);
        const missed = Math.max(0, held.seq - from - 1) + opened.advance(seq);
        this.openSequence(state, epoch, opened);
        return { kind: 'accepted', missed, late: false, released: held.value };
      }
    }
    state.held = { epoch, seq, value };
    return { kind: 'held' };
  }

  /** Origins tracked now. */
  get size(): number {
    return this.origins.size;
  }

  private openSequence(state: OriginState<T>, epoch: string, sequence: Sequence): void {
    const sequences = state.epochs.get(epoch) ?? [];
    state.epochs.delete(epoch);
    while (state.epochs.size >= EPOCHS_PER_ORIGIN) state.epochs.delete(state.epochs.keys().next().value as string);
    sequences.push(sequence);
    while (sequences.length > BRANCHES_PER_EPOCH) sequences.shift();
    state.epochs.set(epoch, sequences);
  }

  private sweep(now: number): void {
    if (now < this.nextSweep) return;
    this.nextSweep = now + Math.min(this.forgetAfterMs, 60_000);
    for (const [origin, state] of this.origins) {
      if (now - state.lastAt > this.forgetAfterMs) this.origins.delete(origin);
    }
  }
}

/** The verdict for the next number, most messages': one object for all of them. */
const IN_ORDER: SequenceVerdict = Object.freeze({ kind: 'accepted', missed: 0, late: false });
const NO_SEQUENCES: readonly Sequence[] = [];

function touch(sequences: Sequence[], used: Sequence): void {
  const i = sequences.indexOf(used);
  if (i !== sequences.length - 1) sequences.push(...sequences.splice(i, 1));
}
