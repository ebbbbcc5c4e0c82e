import { type ChaosRun, LOSES_MESSAGES, runChaos } from '../../../bench/fault-runs/chaos';
import { summaryLine, verdicts } from '../../../bench/fault-runs/verdict';
import { renderHtml } from '../../demo/report';
import { chaosSchedule } from '../../local-stack/chaos-schedule';

/**
 * A short `make chaos-run`: the same seeded random faults in pubsub and in stream, then the
 * history checker. Expected before any fault is injected: the schedule has faults that lose
 * messages (so pubsub leaves books stale that stream repairs), and in both modes the service's
 * counters agree with the client's history.
 */
const SEED = 6;
const schedule = chaosSchedule(SEED, 30, 'standalone');
const runs: Partial<Record<'pubsub' | 'stream', ChaosRun>> = {};

describe('make chaos-run, short: a seeded randomized fault schedule and its history checker', () => {
  it('draws a schedule with a crash before publish and a pause past the buffer limit, the same for every mode', () => {
    expect(schedule.map((s) => s.fault)).toEqual(expect.arrayContaining(['crash', 'pause']));
    expect(schedule.some((s) => LOSES_MESSAGES.has(s.fault))).toBe(true);
    expect(chaosSchedule(SEED, 30, 'standalone')).toEqual(schedule);
    expect(chaosSchedule(SEED + 1, 30, 'standalone')).not.toEqual(schedule);
  });

  it.each(['pubsub', 'stream'] as const)(
    '%s: runs the schedule; the checker judges the history and the counters agree with it',
    async (mode) => {
      const run = await runChaos({ mode, topology: 'standalone', seed: SEED, schedule, ttlSeconds: 300 });
      runs[mode] = run;
      console.log(summaryLine(run));
      expect(run.steps.map((s) => s.fault)).toEqual(schedule.map((s) => s.fault));
      expect(run.check.readsJudged).toBeGreaterThan(1000);
      expect(run.check.lostWrites).toBe(0);
      expect(verdicts(run).filter((v) => !v.ok)).toEqual([]);
      // The pause past the limit cost its replica messages, and it counted them.
      expect(run.steps.some((s) => s.fault === 'pause' && s.missedAfter > s.missedBefore)).toBe(true);
      // The SLO rules saw the run. Messages were missed, and a missed delivery never converges, so
      // converged-deliveries burns in both modes. fresh-reads burns exactly when the probe (whose
      // reads are its input) saw a stale read, and fresh-hits when the service counted one: stream
      // repairs within milliseconds, so it may have none at all (0 to 2 in a run, by timing).
      expect(Object.keys(run.slo).sort()).toEqual(['converged-deliveries', 'fresh-hits', 'fresh-reads']);
      const probeStale = run.report.probe.replicas.reduce((n, r) => n + r.stale, 0);
      const burns = (sli: string) => run.slo[sli]!.maxBurnRate5m! > 0;
      expect({
        converged: burns('converged-deliveries'),
        freshReads: burns('fresh-reads'),
        freshHits: burns('fresh-hits'),
      }).toEqual({ converged: true, freshReads: probeStale > 0, freshHits: run.service.staleReads > 0 });
      // other branch: stream may have no stale read at all; the burn rates above are checked either way.
      if (mode === 'pubsub') expect(probeStale).toBeGreaterThan(0);
      expect(renderHtml(run.report)).toContain('<svg');
    },
    240_000,
  );

  it('pubsub leaves books stale after the schedule ends; stream leaves none', () => {
    expect(runs.pubsub!.check.staleBooksLeft.length).toBeGreaterThan(0);
    expect(runs.stream!.check.staleBooksLeft).toEqual([]);
  });
});
