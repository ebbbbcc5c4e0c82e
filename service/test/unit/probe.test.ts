import { GroundTruth } from '../../src/probe/ground-truth';
import { keyPicker, seededRandom } from '../../src/probe/random';
import { ProbeTally, renderTable, summarize } from '../../src/probe/summary';

describe('seeded traffic', () => {
  it('repeats exactly for the same seed and differs for another', () => {
    const a = seededRandom(7);
    const b = seededRandom(7);
    const c = seededRandom(8);
    const first = Array.from({ length: 5 }, a);
    expect(Array.from({ length: 5 }, b)).toEqual(first);
    expect(Array.from({ length: 5 }, c)).not.toEqual(first);
    expect(first.every((x) => x >= 0 && x < 1)).toBe(true);
  });

  it('picks keys uniformly or by Zipf popularity', () => {
    const count = (pick: () => number) => {
      const hits = new Array(10).fill(0);
      for (let i = 0; i < 20_000; i += 1) hits[pick()] += 1;
      return hits as number[];
    };
    const uniform = count(keyPicker(10, 'uniform', seededRandom(1)));
    expect(Math.max(...uniform) / Math.min(...uniform)).toBeLessThan(1.2);
    const zipf = count(keyPicker(10, 'zipf', seededRandom(1)));
    expect(zipf[0]).toBeGreaterThan(2.5 * zipf[2]!);
    expect(zipf[9]).toBeGreaterThan(0);
  });
});

describe('GroundTruth', () => {
  it('calls a read stale only against versions acknowledged before it was sent', () => {
    const truth = new GroundTruth();
    truth.recordAck('b', 1, 0);
    truth.recordAck('b', 2, 100, 90);
    expect(truth.classify('r1', 'b', 1, 50, 60).result).toBe('fresh');
    expect(truth.classify('r1', 'b', 1, 150, 160).result).toBe('stale');
    expect(truth.classify('r1', 'b', 2, 170, 180).result).toBe('fresh');
    expect(truth.classify('r2', 'b', 1, 99, 130).result).toBe('fresh');
  });

  it('measures the stale window of an episode from the ack to the first fresh read on that replica', () => {
    const truth = new GroundTruth();
    truth.recordAck('b', 5, 1000, 990);
    expect(truth.classify('r1', 'b', 4, 1100, 1110).result).toBe('stale');
    expect(truth.classify('r1', 'b', 4, 1500, 1510).result).toBe('stale');
    const ended = truth.classify('r1', 'b', 5, 2000, 2010);
    expect(ended.endedWindow).toEqual({ replica: 'r1', id: 'b', seconds: 1.01, staleReads: 2 });
    expect(truth.openEpisodes(3000)).toEqual([]);
    truth.recordAck('b', 6, 3000, 2990);
    truth.classify('r2', 'b', 5, 3100, 3110);
    expect(truth.openEpisodes(4000)).toEqual([{ replica: 'r2', id: 'b', seconds: 1, staleReads: 1 }]);
  });

  it('learns committed versions from reads, so an unacknowledged write still makes older reads stale', () => {
    const truth = new GroundTruth();
    truth.recordAck('b', 3, 0);
    expect(truth.classify('r1', 'b', 4, 100, 110).result).toBe('fresh');
    expect(truth.classify('r2', 'b', 3, 200, 210).result).toBe('stale');
  });

  it('marks fresh reads that a newer write, sent before they returned, may have overtaken', () => {
    const truth = new GroundTruth();
    truth.recordAck('b', 1, 0);
    truth.classify('r1', 'b', 1, 100, 200); // sent before the write, returned after it was sent
    truth.classify('r2', 'b', 1, 100, 140); // returned before the write was sent
    truth.recordAck('b', 2, 250, 150);
    truth.classify('r3', 'b', 1, 240, 260); // the write was in flight, acked after it was sent
    expect([truth.ambiguousReads('r1'), truth.ambiguousReads('r2'), truth.ambiguousReads('r3')]).toEqual([1, 0, 1]);
  });
});

describe('probe summary', () => {
  it('sums reads per replica with max and p99 stale windows, and renders a table', () => {
    const truth = new GroundTruth();
    const tally = new ProbeTally(['r1', 'r2']);
    truth.recordAck('b', 2, 1000, 990);
    for (const [replica, version, at] of [
      ['r1', 1, 1100],
      ['r1', 2, 3100],
      ['r2', 2, 1200],
    ] as const) {
      tally.read(replica, truth.classify(replica, 'b', version, at, at + 10).result);
    }
    tally.read('r2', 'error');
    tally.abandon('r2');
    tally.markedStale('r1', 'stale');
    tally.write(true);
    const summary = summarize(tally, truth, 5000);
    expect(summary.replicas).toEqual([
      {
        replica: 'r1',
        reads: 2,
        fresh: 1,
        stale: 1,
        errors: 0,
        abandoned: 0,
        markedStale: 1,
        markedStaleJudgedStale: 1,
        ambiguous: 0,
        staleEpisodes: 1,
        openEpisodes: 0,
        maxStaleWindowSeconds: 2.11,
        p99StaleWindowSeconds: 2.11,
      },
      {
        replica: 'r2',
        reads: 2,
        fresh: 1,
        stale: 0,
        errors: 1,
        abandoned: 1,
        markedStale: 0,
        markedStaleJudgedStale: 0,
        ambiguous: 0,
        staleEpisodes: 0,
        openEpisodes: 0,
        maxStaleWindowSeconds: 0,
        p99StaleWindowSeconds: 0,
      },
    ]);
    expect(summary.writes).toEqual({ ok: 1, errors: 0 });
    const table = renderTable(summary);
    expect(table.split('\n')[0]).toMatch(/replica\s+reads\s+fresh\s+stale\s+errors\s+marked stale/);
    expect(table).toContain('2.110');
  });
});

describe('GroundTruth: writes the database lost', () => {
  it('flags a write acknowledged with a version no higher than one acknowledged before it was sent', () => {
    const truth = new GroundTruth();
    truth.recordAck('a', 1, 100, 90);
    truth.recordAck('a', 2, 200, 150); // built on 1
    truth.recordAck('b', 5, 210, 150);
    truth.recordAck('b', 6, 220, 155); // concurrent with the first: fine either way
    expect(truth.lostWrites).toEqual([]);
    truth.recordAck('a', 2, 300, 250); // sent after 2 was acknowledged, and got 2 again: 2 was lost
    expect(truth.lostWrites).toEqual([{ id: 'a', lostVersion: 2, at: 300 }]);
  });
});
