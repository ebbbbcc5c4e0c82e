import type { SyncMode } from '@local-cache-sync/core';
import type { FaultName } from '../local-stack/faults';
import { waitFor } from '../local-stack/processes';
import type { Stack } from '../local-stack/stack';
import type { Director, EventLog } from './director';

export interface TourStep {
  mode: SyncMode;
  fault: FaultName;
  /** Seconds the fault lasts once injected (a pause: once Redis has cut the subscriber). */
  hold: number;
  /** What to watch, one sentence. */
  say: string;
}

const WARM_UP_SECONDS = 8;

/** The faulted replica of every step: the last one, selected in the view. */
export const TOUR_REPLICA = 2;

/** `make demo TOUR=1`: the classic failures in pubsub, then the two that lose messages, in stream mode. */
export const TOUR: TourStep[] = [
  {
    mode: 'pubsub',
    fault: 'kill',
    hold: 4,
    say: 'kill book-3: proc goes DOWN and its cache dies with it, so it comes back cold with nothing stale',
  },
  {
    mode: 'pubsub',
    fault: 'pause',
    hold: 5,
    say: 'pause book-3 while writes go on: Redis holds its messages up to the buffer limit, then cuts it; on resume watch missed, stale and now',
  },
  {
    mode: 'pubsub',
    fault: 'cut',
    hold: 5,
    say: 'cut book-3 off Redis (HTTP still served): sub goes down and every write meanwhile leaves it a stale book',
  },
  {
    mode: 'pubsub',
    fault: 'restart-redis',
    hold: 4,
    say: 'stop Redis for 4 s: every publish fails, so every replica misses messages and keeps what they would have evicted',
  },
  {
    mode: 'pubsub',
    fault: 'crash',
    hold: 3,
    say: "crash book-3 between its commit and its publish: nobody is told, the others' service stale column rises while missed stays 0",
  },
  {
    mode: 'stream',
    fault: 'pause',
    hold: 5,
    say: 'the same pause in stream mode: the replica replays what it missed from the stream, so now stays 0',
  },
  {
    mode: 'stream',
    fault: 'cut',
    hold: 5,
    say: 'the same cut in stream mode: the cut replica bypasses its cache until it has replayed, so no stale reads',
  },
];

/** Runs the tour's steps in order; each step's outcome lands in the director's outcomes. */
export async function runTour(stack: Stack, director: Director, events: EventLog, steps = TOUR): Promise<void> {
  const replica = stack.replicas[TOUR_REPLICA]!;
  events.log(
    `the probe reads and writes ${stack.probe.books.length} books on every replica; ${WARM_UP_SECONDS} s to warm the caches: watch hit rise`,
  );
  await new Promise((resolve) => setTimeout(resolve, WARM_UP_SECONDS * 1000));
  for (const [n, step] of steps.entries()) {
    if (stack.syncMode !== step.mode) await director.setMode(step.mode);
    events.log(`step ${n + 1}/${steps.length}, ${step.mode}: ${step.say}`);
    await director.inject(step.fault, TOUR_REPLICA);
    if (step.fault === 'crash')
      await waitFor(() => !replica.alive(), {
        timeoutMs: 30_000,
        intervalMs: 100,
        message: 'the armed replica crashes on a write',
      });
    await new Promise((resolve) => setTimeout(resolve, step.hold * 1000));
    await director.heal(step.fault, TOUR_REPLICA);
  }
  events.log('tour done: the report compares the two modes');
}
