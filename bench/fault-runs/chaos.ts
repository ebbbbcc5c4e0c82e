import type { SyncMode, TopologyKind } from '@local-cache-sync/core';
import type { FaultWindow } from '../../service/demo/director';
import { Monitor } from '../../service/demo/monitor';
import { type RunReport, replicaTotals } from '../../service/demo/report';
import type { ChaosStep } from '../../service/local-stack/chaos-schedule';
import { FAULTS, heal, inject, settled } from '../../service/local-stack/faults';
import { waitFor } from '../../service/local-stack/processes';
import { type Stack, startStack } from '../../service/local-stack/stack';
import { checkHistory, clock, type HistoryCheck, type HistoryEvent } from '../../service/src/probe/history';
import { cacheEverywhere, createMarker, MARKERS, type Marker, readMarker, writeMarker } from './markers';
import { type ServiceCounts, type SloView, serviceCounts, sloView } from './run-counts';

export interface ChaosRunOptions {
  mode: SyncMode;
  topology: TopologyKind;
  seed: number;
  schedule: ChaosStep[];
  ttlSeconds: number;
  /** A line per step, as it happens. */
  log?: (line: string) => void;
}

/** What one step did: the fault, when (s from the start), and the faulted replica's missed count around it. */
export interface StepResult extends ChaosStep {
  at: number;
  marker: string;
  markerWritten: boolean;
  missedBefore: number;
  missedAfter: number;
  /** The faulted replica's id. */
  victim: string;
  /** For a kill or a crash: when the replica died (history clock, at the latest). */
  diedAt?: number;
}

export interface ChaosRun {
  mode: SyncMode;
  topology: TopologyKind;
  seed: number;
  seconds: number;
  steps: StepResult[];
  check: HistoryCheck;
  /** Events in the history (reads and writes, the probe's and the marker books'). */
  events: number;
  service: ServiceCounts;
  /** Per SLI (fresh-reads, converged-deliveries, fresh-hits): the SLO rules' view at the end of the run. */
  slo: SloView;
  report: RunReport;
}

/** Faults after which the faulted replica must have counted missed messages (a write was sent while it could not hear). */
export const LOSES_MESSAGES = new Set(['cut', 'pause']);

/**
 * One sync mode through a schedule of faults: three replicas under the probe's traffic (writes
 * through book-2), Prometheus with the project's rules scraping them. Each step caches a fresh
 * marker book on every replica, injects the fault, writes the marker once through a replica that
 * can still publish (the crash's own replica for a crash before publish), holds, heals, and waits
 * until every replica is back, subscribed and settled. A marker is not written again for the next
 * MARKERS faults, so a lost invalidation of it stays visible where the probe's own rewrites (every
 * second or so) would hide it.
 */
export async function runChaos(options: ChaosRunOptions): Promise<ChaosRun> {
  const log = options.log ?? (() => undefined);
  const history: HistoryEvent[] = [];
  const stack = await startStack({
    ttlSeconds: options.ttlSeconds,
    syncMode: options.mode,
    topology: options.topology,
    seed: options.seed,
    heartbeatMs: 1000,
    probeRate: 150,
    probeKeys: 20,
    // Paused past this, Redis cuts the subscriber within a second (the `pause` fault).
    redisArgs: ['--client-output-buffer-limit', 'pubsub 256kb 64kb 1'],
    writers: [1],
    prometheus: true,
    history,
  });
  try {
    if (!stack.prometheus) throw new Error('the chaos run needs Prometheus (make deps builds it into .cache/bin)');
    const startedAt = Date.now();
    const windows: FaultWindow[] = [];
    const paused = new Set<string>();
    const monitor = new Monitor(
      () => stack.replicas,
      stack.probe,
      (replica) => paused.has(replica),
    );
    const sampling = setInterval(() => void monitor.sample().catch(() => undefined), 1000);
    const since = () => (Date.now() - startedAt) / 1000;
    const steps: StepResult[] = [];
    const markers: Marker[] = [];
    try {
      await waitFor(() => stack.probe.summary().replicas.every((r) => r.reads >= 50), {
        timeoutMs: 30_000,
        message: 'warm-up',
      });
      for (const [n, step] of options.schedule.entries()) {
        const victim = stack.replicas[step.replica]!;
        const phases: string[] = [];
        let phaseStart = Date.now();
        const phase = (name: string) => {
          phases.push(`${name} ${Date.now() - phaseStart}`);
          phaseStart = Date.now();
        };
        let marker = markers[n % MARKERS];
        if (!marker) {
          marker = await createMarker(stack, history);
          markers[n % MARKERS] = marker;
        }
        await cacheEverywhere(stack, marker, history);
        phase('marker');
        const missedBefore = await victim.metric('cache_invalidations_missed_total');
        const window: FaultWindow = {
          label: FAULTS[step.fault].label,
          replica: victim.id,
          mode: options.mode,
          from: since(),
        };
        windows.push(window);
        if (step.fault === 'pause' || step.fault === 'short-pause') paused.add(victim.id);
        const what = await inject(stack, step.fault, step.replica);
        let diedAt = step.fault === 'kill' ? clock() : undefined;
        phase('inject');
        const via = step.fault === 'crash' ? 0 : step.replica === 1 ? 2 : 1;
        const markerWritten = await writeMarker(stack, via, marker, history);
        if (step.fault === 'crash') diedAt = clock(); // the marker write is the one it crashed on
        phase('write');
        await new Promise((resolve) => setTimeout(resolve, step.holdMs));
        await heal(stack, step.fault, step.replica);
        paused.delete(victim.id);
        window.to = since();
        phase('hold+heal');
        await backToNormal(stack);
        phase('recover');
        const missedAfter = LOSES_MESSAGES.has(step.fault)
          ? await waitFor(
              async () => {
                const now = await victim.metric('cache_invalidations_missed_total');
                return now > missedBefore ? now : undefined;
              },
              { timeoutMs: 10_000, intervalMs: 100, message: `${victim.id} counted what it missed` },
            ).catch(async () => victim.metric('cache_invalidations_missed_total'))
          : await victim.metric('cache_invalidations_missed_total');
        phase('missed');
        await readMarker(stack, marker.id, history);
        steps.push({
          ...step,
          at: window.from,
          marker: marker.id,
          markerWritten,
          missedBefore,
          missedAfter,
          victim: victim.id,
          diedAt,
        });
        log(
          `step ${n + 1}/${options.schedule.length} at ${window.from.toFixed(0)} s: ${what}; held ${step.holdMs} ms` +
            `${markerWritten ? '' : '; the marker write got no answer'}; missed ${missedAfter - missedBefore} (ms: ${phases.join(', ')})`,
        );
        await new Promise((resolve) => setTimeout(resolve, step.gapMs));
      }
      await backToNormal(stack);
    } finally {
      clearInterval(sampling);
    }
    stack.probe.stop();
    await stack.probe.done;
    // The final reads: every probe book and every marker on every replica, markers twice (a commit
    // only a read revealed, like a crashed write's, is then known before the second pass).
    const finalFrom = clock();
    await stack.probe.readAll();
    for (let pass = 0; pass < 2; pass += 1) for (const marker of markers) await readMarker(stack, marker.id, history);
    const endedAt = Date.now();
    const seconds = (endedAt - startedAt) / 1000;
    const service = await serviceCounts(stack, seconds, endedAt);
    const slo = await sloView(stack, options.mode, seconds, endedAt);
    await monitor.sample();
    const check = checkHistory(history, finalFrom);
    const last = monitor.samples.at(-1)!;
    const report: RunReport = {
      title: `randomized faults (seed ${options.seed}, ${steps.length} steps)`,
      mode: options.mode,
      durationSeconds: seconds,
      faults: windows,
      outcomes: [],
      samples: monitor.samples,
      probe: stack.probe.summary(),
      resources: stack.resources(),
      replicas: replicaTotals(last, stack.probe.summary()),
    };
    return {
      mode: options.mode,
      topology: options.topology,
      seed: options.seed,
      seconds,
      steps,
      check,
      events: history.length,
      service,
      slo,
      report,
    };
  } finally {
    await stack.stop();
  }
}

/** Every replica up, subscribed and (in the safer modes) trusting its cache, with no recovery under way. */
async function backToNormal(stack: Stack): Promise<void> {
  for (const replica of stack.replicas) {
    await waitFor(async () => replica.alive() && (await replica.metric('cache_invalidation_subscriber_up')) === 1, {
      timeoutMs: 60_000,
      intervalMs: 100,
      message: `${replica.id} back and subscribed`,
    });
  }
  await settled(stack);
}
