import type { TopologyKind } from '@local-cache-sync/core';
import { seededRandom } from '../src/probe/random';
import type { FaultName } from './faults';

/** One fault of a randomized run: what, on which replica (by index), for how long, then a pause. */
export interface ChaosStep {
  fault: FaultName;
  replica: number;
  holdMs: number;
  gapMs: number;
}

/** What a step costs beyond its hold and gap (a marker book cached everywhere, recovery, settling). */
const STEP_OVERHEAD_MS = 4000;

/**
 * The faults a randomized run draws from on a topology: pauses within and past Redis' output-buffer
 * limit, kills, crashes before publish, and, where each exists, a cut off Redis (standalone, behind
 * Toxiproxy), a Redis restart (standalone) or a master failover (Sentinel, Cluster).
 */
export function chaosFaults(topology: TopologyKind): FaultName[] {
  const common: FaultName[] = ['short-pause', 'pause', 'kill', 'crash'];
  return topology === 'standalone' ? [...common, 'cut', 'restart-redis'] : [...common, 'failover'];
}

/**
 * A seeded random sequence of faults filling about `seconds` (the same seed gives the same
 * sequence, so every sync mode meets the same faults). A crash before publish is armed on replica 0
 * (which takes no probe writes, so the chaos run's own write is the one it crashes on).
 */
export function chaosSchedule(seed: number, seconds: number, topology: TopologyKind, replicas = 3): ChaosStep[] {
  const random = seededRandom(seed);
  const between = (low: number, high: number) => Math.round(low + random() * (high - low));
  const faults = chaosFaults(topology);
  const steps: ChaosStep[] = [];
  let planned = 0;
  while (planned < seconds * 1000) {
    const fault = faults[Math.floor(random() * faults.length)]!;
    const replica = fault === 'crash' ? 0 : Math.floor(random() * replicas);
    // A short pause must stay within the buffer limit; the others last long enough to lose writes.
    const holdMs = fault === 'short-pause' ? between(300, 1500) : between(1000, 5000);
    const gapMs = between(1000, 4000);
    steps.push({ fault, replica, holdMs, gapMs });
    planned += holdMs + gapMs + STEP_OVERHEAD_MS;
  }
  return steps;
}
