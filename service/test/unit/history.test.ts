import { checkHistory, nines } from '../../src/probe/history';
import { historyRead, historyWrite } from '../harness/fixtures';

const [read, write] = [historyRead, historyWrite];

describe('checkHistory (the chaos run’s offline checker)', () => {
  it('calls a read stale only when a newer version was known before it was sent, with its age', () => {
    const check = checkHistory(
      [
        write('a', 0, 1),
        write('a', 100, 2), // acknowledged at 105
        read('book-1', 'a', 104, 1), // sent before the ack: not stale
        read('book-1', 'a', 106, 1), // sent after: stale, 1 ms after the newer version was known
        read('book-3', 'a', 1105, 1), // still stale a second later
        read('book-2', 'a', 1200, 2),
        read('book-1', 'a', 1300), // failed: not judged
      ],
      10_000,
    );
    expect(check.readsJudged).toBe(4);
    expect(check.staleReads.map((r) => [r.replica, r.ageSeconds])).toEqual([
      ['book-1', 0.001],
      ['book-3', 1],
    ]);
    expect(check.staleBooksLeft).toEqual([]);
    expect(check.lostWrites).toBe(0);
  });

  it('learns a commit from a read that returned it (a write whose answer never came)', () => {
    const check = checkHistory(
      [write('a', 0, 1), write('a', 100), read('book-2', 'a', 200, 2), read('book-1', 'a', 300, 1)],
      10_000,
    );
    expect(check.staleReads.map((r) => [r.replica, r.ageSeconds])).toEqual([['book-1', 0.099]]);
  });

  it('reports the books a replica still served stale in the final reads, judged on the last one', () => {
    const check = checkHistory(
      [
        write('a', 0, 1),
        write('b', 0, 1),
        write('a', 100, 2),
        write('b', 100, 2),
        read('book-1', 'a', 1000, 1), // final, stale: left
        read('book-1', 'b', 1000, 1), // final, stale, but fresh in a later final read
        read('book-1', 'b', 1500, 2),
        read('book-3', 'a', 500, 1), // stale before the final reads only
        read('book-3', 'a', 1000, 2),
      ],
      900,
    );
    expect(check.staleBooksLeft).toEqual([{ replica: 'book-1', id: 'a' }]);
    expect(check.staleReads).toHaveLength(3);
  });

  it('counts fresh reads that a newer committed write, sent before they were answered, overlapped', () => {
    const check = checkHistory(
      [
        write('a', 0, 1),
        write('a', 100, 2), // sent at 100, acknowledged at 105
        read('book-1', 'a', 99, 1), // answered at 100: before the write was sent
        read('book-1', 'a', 101, 1), // overlaps it: the client cannot call it stale
        write('a', 200), // no answer, and never seen: it may not have committed
        read('book-3', 'a', 300, 2),
        write('b', 0, 1),
        write('b', 100), // no answer, but a read saw version 2: it committed
        read('book-1', 'b', 150, 1),
        read('book-3', 'b', 160, 2),
      ],
      10_000,
    );
    expect(check.staleReads).toEqual([]);
    expect(check.concurrentReads).toBe(2);
  });

  it('counts an acknowledged write that did not grow the version as lost', () => {
    expect(checkHistory([write('a', 0, 1), write('a', 100, 1)], 0).lostWrites).toBe(1);
  });

  it('gives nines from errors and events, and a lower bound when nothing failed', () => {
    expect(nines(1, 1000)).toEqual({ value: 3, atLeast: false });
    expect(nines(0, 10_000)).toEqual({ value: 4, atLeast: true });
    expect(nines(0, 0)).toBeUndefined();
  });
});
