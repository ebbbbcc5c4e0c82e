import type { ChaosRun, StepResult } from '../../../bench/fault-runs/chaos';
import { staleHitsConfirmed, UNSCRAPED_BEFORE_DEATH_MS, verdicts } from '../../../bench/fault-runs/verdict';
import { checkHistory } from '../../src/probe/history';
import { historyRead, historyWrite } from '../harness/fixtures';

const [read, write] = [historyRead, historyWrite];

/** A run whose history has three stale reads: two hits (book-1, book-3) and one miss (book-1). */
function run(serviceStale: number, steps: Partial<StepResult>[] = []): ChaosRun {
  const history = [
    write('a', 0, 1),
    write('a', 100, 2),
    read('book-1', 'a', 200, 1, true),
    read('book-3', 'a', 300, 1, true),
    read('book-1', 'a', 400, 1, false),
  ];
  return {
    steps,
    check: checkHistory(history, Number.POSITIVE_INFINITY),
    service: { staleReads: serviceStale, staleChecks: 100, deliveries: 0, deliveredWithin1s: 0, missed: 0 },
  } as unknown as ChaosRun;
}
const agrees = (r: ChaosRun) => verdicts(r).find((v) => v.name.startsWith('stale reads counted'))!.ok;

describe("the chaos run's verdict on the service's stale count", () => {
  it('requires every stale hit the history confirms: fewer fails, never a negative bound', () => {
    expect(run(0).check.staleReads).toHaveLength(3);
    expect(staleHitsConfirmed(run(0))).toBe(2);
    expect([0, 1, 2, 3].map((n) => agrees(run(n)))).toEqual([false, false, true, true]);
  });

  it('takes a confirmed stale hit counted as unacknowledged as counted, and reports the share confirmed', () => {
    const unacknowledged = (serviceStale: number, apart: number) => {
      const r = run(serviceStale);
      r.service.staleUnacknowledged = apart;
      return r;
    };
    // 2 confirmed: 1 stale and 1 apart covers them; 0 and 1 does not.
    expect([unacknowledged(1, 1), unacknowledged(0, 1)].map(agrees)).toEqual([true, false]);
    expect(verdicts(run(4)).find((v) => v.name.startsWith('stale reads counted'))!.detail).toContain(
      "50 % of the service's stale confirmed (target 90 %)",
    );
    // Far more than the history saw: no agreement.
    expect(agrees(run(40))).toBe(false);
  });

  it('excuses the hits of a replica that died before Prometheus could scrape them', () => {
    const died = (at: number) => [{ victim: 'book-3', diedAt: at }];
    // book-3's stale hit was answered at 301: a death within the window takes it along.
    expect(staleHitsConfirmed(run(1, died(301 + UNSCRAPED_BEFORE_DEATH_MS - 1)))).toBe(1);
    expect(staleHitsConfirmed(run(1, died(301 + UNSCRAPED_BEFORE_DEATH_MS + 1)))).toBe(2);
    // A death before the read excuses nothing (the replica was back when it answered).
    expect(staleHitsConfirmed(run(1, died(250)))).toBe(2);
  });
});
