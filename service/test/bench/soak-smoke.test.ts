import { runSoak } from '../../../bench/soak/soak';
import { memoryTrends, ninesCell, provenNines, soakMarkdown, soakTargets } from '../../../bench/soak/soak-report';

/**
 * `make soak`'s machinery on a short run: the same stack, probe, counters and report as the 30
 * minute run, for 15 s at 10 writes a second (well under what FerretDB takes here).
 */
describe('make soak (smoke run)', () => {
  it('counts every delivery against what was published, judges every read, samples memory, and reports', async () => {
    const result = await runSoak({
      seconds: 15,
      writeRate: 10,
      announceRate: 100,
      seed: 11,
      mode: 'stream',
      sampleEveryMs: 3000,
    });
    // A write publishes two invalidations (its keys, its author lists' tag), each to 2 replicas;
    // the library writer's, each to all 3.
    expect(result.writes).toBeGreaterThan(50);
    expect(result.published).toBeGreaterThanOrEqual(2 * result.writes);
    expect([result.announced, result.announceErrors]).toEqual([1500, 0]);
    expect(result.expected).toBe(2 * result.published + 3 * result.announced);
    // Nothing lost on a steady day: every expected delivery applied, none missed.
    expect([result.delivered, result.missed]).toEqual([result.expected, 0]);
    expect(result.within100ms).toBeLessThanOrEqual(result.within1s);
    expect(result.within1s).toBeLessThanOrEqual(result.delivered);
    expect(result.readsJudged).toBeGreaterThan(50);
    expect(result.staleReads).toBeLessThanOrEqual(result.readsJudged);
    // Memory: every replica sampled every 3 s.
    const trends = memoryTrends(result.memory);
    expect(trends.map((t) => t.replica).sort()).toEqual(['book-1', 'book-2', 'book-3']);
    expect(result.memory.length).toBeGreaterThanOrEqual(3 * 4);
    for (const t of trends) expect(t.heapFirst).toBeGreaterThan(1);
    const report = soakMarkdown(result, 'this machine');
    expect(report).toContain('| messages missed: 0 | 0 | met |');
    // A short run cannot prove 6 nines, however many arrived in time.
    expect(soakTargets(result)[0]!.met).toBe(false);
  }, 120_000);

  it('writes nines as the run can prove them', () => {
    expect(provenNines(1000, 1000)).toBe(3);
    expect(provenNines(990, 1000)).toBeCloseTo(2, 9);
    expect(ninesCell(999, 1000)).toBe('3.00');
    expect(ninesCell(1000, 1000)).toBe('≥ 3.00 (none failed)');
    expect(ninesCell(0, 0)).toBe('-');
  });
});
