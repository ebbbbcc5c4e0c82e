import { firstKnownAfter, firstWriteAfter, type VersionHistory } from '../../src/books/book-document';

/** How the stale audit dates the first version after a cached one: by its write, and by when a client knew it. */
describe("a book's version history", () => {
  // Version 5 now; versions 3, 4 and 5 written at 300, 400 and 500.
  const history: VersionHistory = { version: 5, updatedAt: 500, writeTimes: [300, 400, 500] };

  it('dates the first version after a cached one by its write, or by the oldest kept write when older', () => {
    expect(firstWriteAfter(history, 3)).toBe(400);
    expect(firstWriteAfter(history, 5)).toBeUndefined();
    expect(firstWriteAfter(history, 1)).toBe(300);
  });

  it('knows a newer version from its earliest acknowledgment, or a wait after its commit if none came', () => {
    const wait = 1000;
    // Version 4 acknowledged at 450, version 5 at 520: a copy of 3 was stale to clients from 450.
    expect(
      firstKnownAfter(
        history,
        [
          { version: 4, at: 450 },
          { version: 5, at: 520 },
        ],
        3,
        wait,
      ),
    ).toBe(450);
    // Only version 5 acknowledged: the first acknowledgment after the cached version counts.
    expect(firstKnownAfter(history, [{ version: 5, at: 520 }], 3, wait)).toBe(520);
    // An acknowledgment of the cached version itself or older says nothing about newer ones.
    expect(firstKnownAfter(history, [{ version: 3, at: 310 }], 3, wait)).toBe(400 + wait);
    // Never acknowledged (its writer died): known `wait` after the commit, the earlier of the two.
    expect(firstKnownAfter(history, [{ version: 4, at: 2000 }], 3, wait)).toBe(400 + wait);
    expect(firstKnownAfter(history, [], 5, wait)).toBeUndefined();
  });
});
