import type { SyncMode } from '@local-cache-sync/core';
import { type BufferProgress, FAULTS, type FaultName, formatBytes, heal, inject } from '../local-stack/faults';
import { waitFor } from '../local-stack/processes';
import type { Stack } from '../local-stack/stack';
import type { Monitor, ReplicaSample } from './monitor';

/** A fault as the charts mark it: seconds since the demo started; `to` unset while it lasts. */
export interface FaultWindow {
  label: string;
  replica: string;
  mode: string;
  from: number;
  to?: number;
}

/** What one fault did, measured from the fault to a few seconds after its heal. */
export interface Outcome {
  fault: string;
  mode: string;
  replica: string;
  /** Per replica: messages missed and stale reads (service and probe) during the fault and after; books stale now. */
  replicas: {
    replica: string;
    missed: number;
    staleService: number;
    staleProbe: number;
    staleNow: number;
    staleBooks?: string[];
    /** Probe reads judged, invalidations applied, and of them those within 1 s: the SLIs' events. */
    judged?: number;
    deliveries?: number;
    deliveredWithin1s?: number;
  }[];
  /** Writes the database acknowledged and then lost (an alarm: 0 on a store that applies updates atomically or serialised). */
  lostWrites: number;
  /** The event line that says what happened and where to look. */
  text: string;
}

export interface EventLog {
  /** Adds an event line, or replaces the one logged with the same key (`last`: its final text). */
  log(text: string, key?: string, last?: boolean): void;
}

/** Faults that hit every replica at once (the replica index is ignored). */
const EVERYONE = new Set<FaultName>(['restart-redis', 'failover', 'garbage']);
/**
 * After a heal, before the outcome is measured: a gap is counted when the next message arrives
 * (heartbeats every 500 ms), the safer modes recover, the probe meets the first stale reads.
 */
const SETTLE_MS = 4000;
/** A book a replica still serves this long after a newer write was acknowledged missed its invalidation. */
const STUCK_AFTER_MS = 1000;

/**
 * Injects and heals faults on the running stack and tells the story: the fault's progress (the
 * buffer Redis holds for a paused replica), then what it cost ("book-3 missed 71 messages; it now
 * serves 19 stale books") and what to try next. The live view, the scripted runs and the tour all
 * go through it, so the event lines, the page's fault bands and the reports agree.
 */
export class Director {
  readonly windows: FaultWindow[] = [];
  readonly outcomes: Outcome[] = [];
  private readonly baselines = new Map<string, { at: number; replicas: ReplicaSample[] }>();

  constructor(
    private readonly stack: Stack,
    private readonly monitor: Monitor,
    private readonly events: EventLog,
  ) {}

  private now(): number {
    return this.monitor.samples.at(-1)?.t ?? 0;
  }

  private target(fault: FaultName, i: number): string {
    return EVERYONE.has(fault) ? 'every replica' : this.stack.replicas[i]!.id;
  }

  async inject(fault: FaultName, i: number): Promise<void> {
    const replica = this.stack.replicas[i]!.id;
    const key = `${fault}:${this.target(fault, i)}`;
    this.baselines.set(key, { at: Date.now(), replicas: (await this.monitor.sample()).replicas });
    this.windows.push({
      label: FAULTS[fault].label,
      replica: this.target(fault, i),
      mode: this.stack.syncMode,
      from: this.now(),
    });
    const limit = this.stack.pubsubBufferLimit ?? 'default';
    const onBuffer = ({ seconds, sent, held, cut }: BufferProgress) =>
      this.events.log(
        cut
          ? `Redis cut ${replica}'s subscriber after ${seconds.toFixed(1)} s, ${formatBytes(sent)} sent its way: its messages are lost from now on; u resumes it`
          : `${replica} paused: ${formatBytes(sent)} sent its way, Redis holds ${formatBytes(held)} (limit ${limit})`,
        `buffer:${replica}`,
        cut,
      );
    if (fault === 'pause')
      this.events.log(
        `pausing ${replica}; 70 KB fillers (the others reject them as oversized) stand in for minutes of traffic`,
      );
    const text = await inject(this.stack, fault, i, onBuffer);
    if (fault !== 'pause') this.events.log(text);
    if (fault === 'crash') void this.watchCrash(i);
    if (fault === 'short-pause')
      this.events.log(
        `Redis and the socket buffers keep ${replica}'s messages (megabytes: minutes of ordinary traffic); u resumes it, p pauses past the limit`,
      );
    if (fault === 'garbage') {
      this.windows.at(-1)!.to = this.now();
      void this.finish(fault, i, 'published garbage');
    }
  }

  /** Heals the fault; resolves with its outcome once the numbers have settled. */
  async heal(fault: FaultName, i: number): Promise<Outcome | undefined> {
    const text = await heal(this.stack, fault, i);
    this.events.log(text);
    const window = this.openWindow(this.target(fault, i), fault);
    if (window) window.to = this.now();
    return this.finish(fault, i, text);
  }

  async setMode(mode: SyncMode): Promise<void> {
    this.events.log(`switching every replica to ${mode} (rolling restart)...`);
    await this.stack.setMode(mode);
    this.events.log(`now in ${mode} mode: inject the same fault again and compare`);
  }

  private openWindow(target: string, fault: FaultName): FaultWindow | undefined {
    return this.windows.find((w) => w.replica === target && w.label === FAULTS[fault].label && w.to === undefined);
  }

  /** Which of `faults` is going on for replica `i` (the last one when none is). */
  open(i: number, faults: FaultName[]): FaultName {
    const replica = this.stack.replicas[i]!.id;
    return faults.find((f) => this.openWindow(replica, f)) ?? faults.at(-1)!;
  }

  /** Stopped by a pause that is not healed yet. */
  paused(replica: string): boolean {
    return this.openWindow(replica, 'pause') !== undefined || this.openWindow(replica, 'short-pause') !== undefined;
  }

  private async watchCrash(i: number): Promise<void> {
    const replica = this.stack.replicas[i]!;
    const died = await waitFor(() => !replica.alive(), { timeoutMs: 60_000, intervalMs: 100 }).catch(() => false);
    if (died)
      this.events.log(
        `${replica.id} committed a write and died before publishing it; r restarts it, then the others' service stale counts show who serves the old version`,
      );
  }

  private async finish(fault: FaultName, i: number, healed: string): Promise<Outcome | undefined> {
    const key = `${fault}:${this.target(fault, i)}`;
    const before = this.baselines.get(key);
    if (!before) return undefined;
    this.baselines.delete(key);
    const replica = this.stack.replicas[i]!;
    await waitFor(
      async () => {
        const sample = this.monitor.samples.at(-1)?.replicas.find((r) => r.replica === replica.id);
        return EVERYONE.has(fault) || (sample?.up && sample.subscriber === 'up');
      },
      { timeoutMs: 15_000, intervalMs: 200 },
    ).catch(() => undefined);
    await new Promise((resolve) => setTimeout(resolve, SETTLE_MS));
    // Books stale now because of this fault: the probe reads every book on every replica once
    // (so a book served stale and fixed since is not counted), then takes the episodes of writes
    // acknowledged since the fault began that the replica still missed STUCK_AFTER_MS later. A
    // read that raced an invalidation still in flight (milliseconds, more on a loaded machine) is
    // stale too, but not stuck: the next read is fresh.
    await this.stack.probe.readAll().catch(() => undefined);
    const after = (await this.monitor.sample()).replicas;
    const now = Date.now();
    const truth = this.stack.probe.truth;
    const stuck = truth
      .openEpisodes(now)
      .filter((e) => now - e.seconds * 1000 >= before.at && e.seconds * 1000 >= STUCK_AFTER_MS);
    const replicas = after.map((r) => {
      const b = before.replicas.find((x) => x.replica === r.replica);
      const staleBooks = stuck.filter((e) => e.replica === r.replica).map((e) => e.id);
      return {
        replica: r.replica,
        missed: r.missed - (b?.missed ?? 0),
        staleService: r.staleService - (b?.staleService ?? 0),
        staleProbe: r.staleProbe - (b?.staleProbe ?? 0),
        staleNow: staleBooks.length,
        staleBooks,
        judged: r.judged - (b?.judged ?? 0),
        deliveries: r.deliveries - (b?.deliveries ?? 0),
        deliveredWithin1s: r.deliveredWithin1s - (b?.deliveredWithin1s ?? 0),
      };
    });
    const lostWrites = truth.lostWrites.length;
    const outcome: Outcome = {
      fault: FAULTS[fault].label,
      mode: this.stack.syncMode,
      replica: this.target(fault, i),
      replicas,
      lostWrites,
      text:
        describeOutcome(fault, replica.id, this.stack.syncMode, replicas, healed) +
        (lostWrites > 0 ? ` (ALARM: the database lost ${plural(lostWrites, 'acknowledged write')})` : ''),
    };
    this.outcomes.push(outcome);
    this.events.log(outcome.text);
    return outcome;
  }
}

const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;

/** One sentence: what the fault cost, measured, and where to look next. */
export function describeOutcome(
  fault: FaultName,
  replica: string,
  mode: string,
  replicas: Outcome['replicas'],
  healed: string,
): string {
  const hint = mode === 'pubsub' ? '; press m for a safer mode' : '';
  const one = replicas.find((r) => r.replica === replica)!;
  const staleNow = replicas.reduce((n, r) => n + r.staleNow, 0);
  const lasting = staleNow > 0 ? `, stale until the TTL or the next write${hint}` : '';
  switch (fault) {
    case 'kill':
      return `${replica} came back cold: its cache died with it, so it serves ${plural(one.staleNow, 'stale book')} (probe); the messages sent to it while down were lost harmlessly`;
    case 'crash': {
      const others = replicas.filter((r) => r.replica !== replica);
      return `the crashed write was never announced: the others' own checks caught ${others.map((r) => `${r.replica} ${r.staleService}`).join(', ')} stale reads meanwhile (of it, and of books left stale before); missed stays ${others.reduce((n, r) => n + r.missed, 0)} (no message was sent to miss); the probe cannot judge a write it never saw acknowledged${mode === 'pubsub' ? hint : ''}`;
    }
    case 'garbage':
      return `${healed}: every replica rejects it and counts it by reason; nothing was evicted, nothing crashed`;
    case 'restart-redis':
    case 'failover':
      return `every replica missed messages (${replicas.map((r) => `${r.replica} ${r.missed}`).join(', ')}); stale books now ${replicas.map((r) => r.staleNow).join('/')} (probe)${lasting}`;
    default: {
      if (one.missed === 0)
        return `${replica} missed nothing: Redis held its messages within the buffer limit${fault === 'short-pause' ? '; press p to pause past it' : ''}`;
      const recovered = mode === 'pubsub' ? '' : one.staleNow === 0 ? ` and ${mode} mode repaired it` : '';
      const text = `${replica} missed ${plural(one.missed, 'message')}${recovered}; it now serves ${plural(one.staleNow, 'stale book')} (probe)${one.staleNow > 0 ? `, stale until the TTL or the next write${hint}` : ''}`;
      // Cut off, it could not announce its own writes either: the others served them stale.
      const others = replicas.filter((r) => r.replica !== replica);
      const [reads, still] = [others.reduce((n, r) => n + r.staleProbe, 0), others.reduce((n, r) => n + r.staleNow, 0)];
      if (fault !== 'cut' || reads + still === 0) return text;
      return `${text}; its own writes went unannounced: the others served ${plural(reads, 'stale read')} (probe), ${plural(still, 'book')} still stale there`;
    }
  }
}
