import { GapDetector, MAX_JUMP } from '../src/sync/gap-detector';

const accepted = (missed: number, late = false) => ({ kind: 'accepted', missed, late });

describe('GapDetector', () => {
  it('counts nothing for consecutive messages, first sight included', () => {
    const gaps = new GapDetector();
    expect(gaps.observe('a', 'e1', 41)).toEqual(accepted(0));
    expect(gaps.observe('a', 'e1', 42)).toEqual(accepted(0));
  });

  it('counts every message skipped in a sequence', () => {
    const gaps = new GapDetector();
    gaps.observe('a', 'e1', 1);
    expect(gaps.observe('a', 'e1', 5)).toEqual(accepted(3));
    expect(gaps.observe('a', 'e1', 6)).toEqual(accepted(0));
  });

  it('keeps origins apart', () => {
    const gaps = new GapDetector();
    gaps.observe('a', 'e1', 1);
    gaps.observe('b', 'e9', 10);
    expect(gaps.observe('a', 'e1', 2)).toEqual(accepted(0));
    expect(gaps.observe('b', 'e9', 12)).toEqual(accepted(1));
    expect(gaps.size).toBe(2);
  });

  it('flags repeats as duplicates without moving the sequence', () => {
    const gaps = new GapDetector();
    gaps.observe('a', 'e1', 5);
    expect(gaps.observe('a', 'e1', 5)).toEqual({ kind: 'duplicate' });
    expect(gaps.observe('a', 'e1', 6)).toEqual(accepted(0));
    expect(gaps.observe('a', 'e1', 6)).toEqual({ kind: 'duplicate' });
  });

  it('counts what a restarted origin sent before we heard from it', () => {
    const gaps = new GapDetector();
    gaps.observe('a', 'e1', 7);
    expect(gaps.observe('a', 'e2', 1)).toEqual(accepted(0));
    gaps.observe('b', 'e1', 7);
    expect(gaps.observe('b', 'e2', 4)).toEqual(accepted(3));
  });

  describe('sender-supplied numbers cannot hurt', () => {
    it('one message far ahead is held, counted as nothing, and the real sequence goes on', () => {
      const gaps = new GapDetector();
      gaps.observe('a', 'e1', 10);
      expect(gaps.observe('a', 'e1', Number.MAX_SAFE_INTEGER)).toEqual({ kind: 'held' });
      expect(gaps.observe('a', 'e1', 11)).toEqual(accepted(0));
      expect(gaps.observe('a', 'e1', 12)).toEqual(accepted(0));
    });

    it('a jump within the limit makes the numbers it skipped late, not duplicates', () => {
      const gaps = new GapDetector();
      gaps.observe('a', 'e1', 10);
      expect(gaps.observe('a', 'e1', 10 + MAX_JUMP + 1)).toEqual(accepted(MAX_JUMP));
      expect(gaps.observe('a', 'e1', 11)).toEqual(accepted(0, true));
      expect(gaps.observe('a', 'e1', 12)).toEqual(accepted(0, true));
      expect(gaps.observe('a', 'e1', 12)).toEqual({ kind: 'duplicate' });
    });

    it('two forged messages far ahead open a second sequence only if time allows it; the real one stays open', () => {
      let now = 1_000_000;
      const gaps = new GapDetector<string>({ now: () => now, maxMessagesPerSecond: 1000 });
      gaps.observe('a', 'e1', 10);
      // 2^53 numbers cannot have been sent in 1 s: never confirmed.
      now += 1000;
      expect(gaps.observe('a', 'e1', 2 ** 52, 'forged')).toEqual({ kind: 'held' });
      expect(gaps.observe('a', 'e1', 2 ** 52 + 1)).toEqual({ kind: 'held' });
      expect(gaps.observe('a', 'e1', 11)).toEqual(accepted(0));
      // 20 s of silence: a jump of 9,999 is plausible at 1,000/s, and confirmed by the next number.
      now += 20_000;
      expect(gaps.observe('a', 'e1', 10_011, 'first after the gap')).toEqual({ kind: 'held' });
      expect(gaps.observe('a', 'e1', 10_012)).toEqual({ ...accepted(9_999), released: 'first after the gap' });
      // Were those two forged, the real sender still fits its own sequence.
      expect(gaps.observe('a', 'e1', 12)).toEqual(accepted(0));
      expect(gaps.observe('a', 'e1', 10_013)).toEqual(accepted(0));
    });

    it('a sender restarted after a long loss is confirmed by its next message', () => {
      let now = 0;
      const gaps = new GapDetector({ now: () => now });
      gaps.observe('a', 'e1', 3);
      now += 60_000;
      expect(gaps.observe('a', 'e2', 50_000)).toEqual({ kind: 'held' });
      expect(gaps.observe('a', 'e2', 50_001).kind).toBe('accepted');
      expect(gaps.observe('a', 'e2', 50_002)).toEqual(accepted(0));
    });

    it('keeps at most maxOrigins origins, forgetting the least recently heard, and forgets the silent', () => {
      let now = 0;
      const gaps = new GapDetector({ maxOrigins: 3, forgetAfterMs: 1000, now: () => now });
      for (const origin of ['a', 'b', 'c', 'd']) gaps.observe(origin, 'e', 1);
      expect(gaps.size).toBe(3);
      // a was forgotten: it is first sight again, nothing counted.
      expect(gaps.observe('a', 'e', 5)).toEqual(accepted(0));
      for (let i = 0; i < 100_000; i += 1) gaps.observe(`forged-${i}`, 'e', 1);
      expect(gaps.size).toBe(3);
      now += 120_000;
      gaps.observe('z', 'e', 1);
      expect(gaps.size).toBe(1);
    });

    it('forgets the least recently heard, however often the others were heard in a row', () => {
      const gaps = new GapDetector({ maxOrigins: 3 });
      for (const origin of ['a', 'b', 'c']) gaps.observe(origin, 'e', 1);
      gaps.observe('a', 'e', 2);
      gaps.observe('a', 'e', 3);
      gaps.observe('c', 'e', 2);
      gaps.observe('d', 'e', 1); // b is the least recently heard now
      expect(gaps.observe('a', 'e', 5)).toEqual(accepted(1));
      expect(gaps.observe('c', 'e', 4)).toEqual(accepted(1));
      expect(gaps.observe('b', 'e', 9)).toEqual(accepted(0)); // forgotten: first sight again
    });
  });
});
