import { waitFor } from '../../../service/local-stack/processes';
import { LocalCache } from '../src/cache/local-cache';
import { encodeEnvelope } from '../src/sync/envelope';
import { InvalidationSubscriber } from '../src/sync/invalidation-subscriber';
import { SCOPE, sampleMessage } from './fixtures';

const ID = '6566f0c1a1b2c3d4e5f60718';

function setup(replays = false, reorderWindowMs = 0) {
  const cache = new LocalCache<{ id: string; version: number }>({ ttlSeconds: 300, maxKeys: 100 });
  const seen = { rejected: [] as string[], missed: 0, applied: 0, messages: 0, lags: [] as number[], gaps: 0 };
  const subscriber = new InvalidationSubscriber({
    cache,
    scope: SCOPE,
    channel: 'book-channel',
    selfOrigin: 'book-2',
    replays,
    reorderWindowMs,
    onGap: () => {
      seen.gaps += 1;
    },
    events: {
      onRejected: (reason) => seen.rejected.push(reason),
      onMissed: (count) => {
        seen.missed += count;
      },
      onMessage: () => {
        seen.messages += 1;
      },
      onInvalidation: ({ lagSeconds }) => {
        seen.applied += 1;
        seen.lags.push(lagSeconds ?? Number.NaN);
      },
    },
  });
  return { cache, seen, subscriber };
}

describe('InvalidationSubscriber', () => {
  it('evicts older entries of the book and keeps newer ones', () => {
    const { cache, seen, subscriber } = setup();
    cache.set(`id:${ID}`, { id: ID, version: 3 });
    cache.set('name:Dune', { id: ID, version: 5 });
    subscriber.handle(encodeEnvelope(sampleMessage({ version: 4, publishedAt: Date.now() - 50 })));
    expect(cache.peek(`id:${ID}`)).toBeUndefined();
    expect(cache.peek('name:Dune')).toEqual({ id: ID, version: 5 });
    expect(seen.applied).toBe(1);
    // Published 50 ms ago: the lag is measured from publishedAt, in seconds.
    expect(seen.lags).toEqual([expect.any(Number)]);
    expect(seen.lags[0]).toBeGreaterThan(0.048);
    expect(seen.lags[0]).toBeLessThan(5);
    cache.close();
  });

  it('ignores its own messages entirely', () => {
    const { cache, seen, subscriber } = setup();
    cache.set(`id:${ID}`, { id: ID, version: 1 });
    subscriber.handle(encodeEnvelope(sampleMessage({ origin: 'book-2' })));
    expect(cache.peek(`id:${ID}`)).toBeDefined();
    expect(seen).toMatchObject({ applied: 0, messages: 0, rejected: [] });
    cache.close();
  });

  it('counts sequence gaps, heartbeats included, and rejects replays', () => {
    const { cache, seen, subscriber } = setup();
    const heartbeat = (seq: number) =>
      encodeEnvelope({ v: 1, type: 'heartbeat', origin: 'book-1', epoch: 'a1b2c3', seq, publishedAt: Date.now() });
    subscriber.handle(heartbeat(1));
    subscriber.handle(encodeEnvelope(sampleMessage({ seq: 2 })));
    subscriber.handle(heartbeat(6));
    subscriber.handle(heartbeat(6));
    expect(seen.missed).toBe(3);
    expect(seen.messages).toBe(3);
    expect(seen.rejected).toEqual(['duplicate']);
    cache.close();
  });

  it('recovers at once on a gap, but counts as missed only what has not arrived within the reorder window', async () => {
    const { cache, seen, subscriber } = setup(false, 200);
    const message = (seq: number) => encodeEnvelope(sampleMessage({ seq, version: seq + 1, publishedAt: Date.now() }));
    subscriber.handle(message(1));
    // 2 and 3 overtaken by 4 (a retried publish): a gap of two, signalled at once, counted later.
    subscriber.handle(message(4));
    expect([seen.gaps, seen.missed]).toEqual([1, 0]);
    subscriber.handle(message(3));
    expect([seen.applied, seen.rejected]).toEqual([3, []]);
    // 2 never comes: once the window has passed, one is missed (3 arrived in time).
    await waitFor(() => seen.missed > 0, { timeoutMs: 5_000, message: 'the gap counted' });
    expect([seen.gaps, seen.missed]).toEqual([1, 1]);
    // A gap still open when the subscriber closes counts at once: nothing seen is left uncounted.
    subscriber.handle(message(9));
    subscriber.countOpenGaps();
    expect([seen.gaps, seen.missed]).toEqual([2, 5]);
    cache.close();
  });

  it('replays only what it did not apply (stream mode)', () => {
    const { seen, subscriber } = setup(true);
    const [first, second] = [1, 2].map((seq) =>
      encodeEnvelope(sampleMessage({ seq, version: seq + 1, publishedAt: Date.now() })),
    ) as [string, string];
    subscriber.handle(first);
    expect(subscriber.replay(first)).toBe('skipped');
    expect(subscriber.replay(second)).toBe('applied');
    expect(subscriber.replay(second)).toBe('skipped');
    expect(seen.applied).toBe(2);
  });

  it('keeps the ids it applied for 30 s, and all of them from trust lost until the replay ran', () => {
    const { subscriber } = setup(true);
    let now = 1_000_000;
    const clock = jest.spyOn(Date, 'now').mockImplementation(() => now);
    try {
      let seq = 0;
      const apply = (count: number) => {
        for (let i = 0; i < count; i += 1) {
          seq += 1;
          subscriber.handle(encodeEnvelope(sampleMessage({ seq, version: seq + 1, publishedAt: now })));
        }
      };
      apply(10);
      now += 31_000;
      apply(1);
      // A steady day: only the last 30 s of ids (the replay reaches back 2 s), not the last 100,000.
      expect(subscriber.appliedKept).toBe(1);
      subscriber.holdApplied();
      now += 31_000;
      apply(5);
      // Trust lost: what was applied before stays until the replay has run.
      expect(subscriber.appliedKept).toBe(6);
      subscriber.releaseApplied();
      now += 31_000;
      apply(1);
      expect(subscriber.appliedKept).toBe(1);
    } finally {
      clock.mockRestore();
    }
  });

  it('survives garbage without throwing or evicting', () => {
    const { cache, seen, subscriber } = setup();
    cache.set(`id:${ID}`, { id: ID, version: 1 });
    for (const raw of ['', '{', 'null', '{"v":1}', encodeEnvelope(sampleMessage({ cache: 'other', version: 99 }))]) {
      expect(() => subscriber.handle(raw)).not.toThrow();
    }
    expect(cache.peek(`id:${ID}`)).toBeDefined();
    expect(seen.rejected).toEqual([
      'malformed_json',
      'malformed_json',
      'invalid_envelope',
      'invalid_envelope',
      'foreign_cache',
    ]);
    cache.close();
  });
});
