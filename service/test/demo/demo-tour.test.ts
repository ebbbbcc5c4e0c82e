import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RunReport } from '../../demo/report';
import { TOUR } from '../../demo/tour';
import { startDemo } from '../harness/demo';

/** `make demo TOUR=1`: every step to the end, and the report comparing the two modes. */
describe('make demo TOUR=1', () => {
  const dir = mkdtempSync(join(tmpdir(), 'lcs-demo-tour-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('walks through the faults in pubsub, then the lossy two in stream, and writes the comparison', async () => {
    const demo = startDemo(['--scenario', 'tour', '--report', dir]);
    const code = await demo.exited;
    const output = demo.output();
    expect({ code, tail: output.slice(-3000) }).toEqual({
      code: 0,
      tail: expect.stringContaining('report written to'),
    });

    for (const [n, step] of TOUR.entries())
      expect(output).toContain(`step ${n + 1}/${TOUR.length}, ${step.mode}: ${step.say}`);
    const report = JSON.parse(readFileSync(join(dir, 'summary.json'), 'utf8')) as RunReport;
    expect(report.outcomes.map((o) => `${o.mode} ${o.fault}`)).toEqual([
      'pubsub kill',
      'pubsub pause past the buffer limit',
      'pubsub cut',
      'pubsub restart Redis',
      'pubsub crash before publish',
      'stream pause past the buffer limit',
      'stream cut',
    ]);
    // The source of truth never went back: no acknowledged write lost, in any step.
    expect(report.outcomes.map((o) => o.lostWrites)).toEqual(report.outcomes.map(() => 0));
    const on = (mode: string, fault: string) =>
      report.outcomes.find((o) => o.mode === mode && o.fault === fault)!.replicas.find((r) => r.replica === 'book-3')!;
    // The classic failure, then the same loss repaired.
    const pubsubPause = on('pubsub', 'pause past the buffer limit');
    expect(pubsubPause.missed).toBeGreaterThan(0);
    expect(pubsubPause.staleProbe).toBeGreaterThan(0);
    for (const fault of ['pause past the buffer limit', 'cut']) {
      const stream = on('stream', fault);
      expect({ fault, missed: stream.missed > 0, staleNow: stream.staleNow }).toEqual({
        fault,
        missed: true,
        staleNow: 0,
      });
    }
    const md = readFileSync(join(dir, 'report.md'), 'utf8');
    expect(md).toContain('## The same faults in each mode');
    expect(md).toMatch(
      /\| pause past the buffer limit \| \d+ missed, \d+ stale reads, \d+ stale after \| \d+ missed, \d+ stale reads, 0 stale after \|/,
    );
    // The freshness SLIs of each mode over the faults both modes went through, as nines: what the
    // outcomes give (recomputed here), and above zero (not every read stale, not every delivery late).
    const both = ['pause past the buffer limit', 'cut'];
    const replicasOf = (mode: string) =>
      report.outcomes.filter((o) => o.mode === mode && both.includes(o.fault)).flatMap((o) => o.replicas);
    const total = (mode: string, f: (r: RunReport['outcomes'][number]['replicas'][number]) => number | undefined) =>
      replicasOf(mode).reduce((n, r) => n + (f(r) ?? 0), 0);
    const expectedNines = (errors: number, all: number) =>
      errors === 0 ? `≥ ${Math.log10(all).toFixed(2)}` : (-Math.log10(errors / all)).toFixed(2);
    const row = (name: string) =>
      new RegExp(`\\| ${name} \\(nines\\) \\| ([^|]+) \\| ([^|]+) \\|`)
        .exec(md)!
        .slice(1)
        .map((v) => v.trim());
    const freshReads = row('fresh reads');
    const converged = row('converged deliveries');
    expect(freshReads).toEqual(
      ['pubsub', 'stream'].map((m) =>
        expectedNines(
          total(m, (r) => r.staleProbe),
          total(m, (r) => r.judged),
        ),
      ),
    );
    expect(converged).toEqual(
      ['pubsub', 'stream'].map((m) => {
        const [applied, within, missed] = [
          total(m, (r) => r.deliveries),
          total(m, (r) => r.deliveredWithin1s),
          total(m, (r) => r.missed),
        ];
        return expectedNines(applied - within + missed, applied + missed);
      }),
    );
    for (const nines of [...freshReads, ...converged]) expect(Number(nines.replace('≥ ', ''))).toBeGreaterThan(0);
    const html = readFileSync(join(dir, 'report.html'), 'utf8');
    expect(html.match(/<rect class="fault"/g)?.length).toBe(5 * TOUR.length);
    expect(output).not.toContain('STILL THERE');
  }, 300_000);
});
