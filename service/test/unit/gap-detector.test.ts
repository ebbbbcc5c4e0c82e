import { GapDetector } from '../../src/sync/gap-detector';

describe('GapDetector', () => {
  it('counts nothing for consecutive messages, first sight included', () => {
    const gaps = new GapDetector();
    expect(gaps.observe('a', 'e1', 41)).toEqual({ missed: 0, duplicate: false });
    expect(gaps.observe('a', 'e1', 42)).toEqual({ missed: 0, duplicate: false });
  });

  it('counts every message skipped in a sequence', () => {
    const gaps = new GapDetector();
    gaps.observe('a', 'e1', 1);
    expect(gaps.observe('a', 'e1', 5)).toEqual({ missed: 3, duplicate: false });
    expect(gaps.observe('a', 'e1', 6).missed).toBe(0);
  });

  it('keeps origins apart', () => {
    const gaps = new GapDetector();
    gaps.observe('a', 'e1', 1);
    gaps.observe('b', 'e9', 10);
    expect(gaps.observe('a', 'e1', 2).missed).toBe(0);
    expect(gaps.observe('b', 'e9', 12).missed).toBe(1);
    expect(gaps.origins).toBe(2);
  });

  it('flags repeats and reordering as duplicates without moving the cursor', () => {
    const gaps = new GapDetector();
    gaps.observe('a', 'e1', 5);
    expect(gaps.observe('a', 'e1', 5)).toEqual({ missed: 0, duplicate: true });
    expect(gaps.observe('a', 'e1', 3)).toEqual({ missed: 0, duplicate: true });
    expect(gaps.observe('a', 'e1', 6).missed).toBe(0);
  });

  it('counts what a restarted origin sent before we heard from it', () => {
    const gaps = new GapDetector();
    gaps.observe('a', 'e1', 7);
    expect(gaps.observe('a', 'e2', 1).missed).toBe(0);
    gaps.observe('b', 'e1', 7);
    expect(gaps.observe('b', 'e2', 4).missed).toBe(3);
  });
});
