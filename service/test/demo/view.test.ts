import { renderPlain, renderView, type ViewState } from '../../demo/view';

const state: ViewState = {
  mode: 'pubsub',
  selected: 2,
  urls: ['prometheus http://127.0.0.1:9090'],
  events: Array.from({ length: 30 }, (_, i) => ({
    t: i,
    text: `event number ${i} with a rather long description that runs past eighty columns for sure`,
  })),
  sample: {
    t: 75,
    replicas: [
      {
        replica: 'book-1',
        up: true,
        subscriber: 'up',
        hitRatio: 0.931,
        lagP99: 0.00025,
        missed: 0,
        staleService: 0,
        staleProbe: 0,
        maxStaleWindow: 0,
      },
      { replica: 'book-2', up: false, subscriber: '?', missed: 3, staleService: 1, staleProbe: 2, maxStaleWindow: 0.5 },
      {
        replica: 'book-3',
        up: true,
        subscriber: 'down',
        hitRatio: 0.5,
        lagP99: 2.5,
        missed: 79,
        staleService: 40,
        staleProbe: 41,
        maxStaleWindow: 13.91,
      },
    ],
  },
};

describe('terminal view', () => {
  it('fits 80x24 and shows every replica with its numbers', () => {
    const lines = renderView(state);
    expect(lines).toHaveLength(24);
    for (const line of lines) expect(line.length).toBeLessThanOrEqual(80);
    expect(lines[0]).toBe('local-cache-sync demo  mode pubsub  01:15');
    const book1 = lines.find((l) => l.includes('book-1'))!;
    expect(book1).toMatch(/^ book-1\s+yes\s+up\s+93%\s+0\.25ms\s+0\s+0\/0\s+0\.00ms$/);
    expect(lines.find((l) => l.includes('book-2'))).toMatch(/book-2\s+DOWN\s+\?\s+-\s+-\s+3\s+1\/2\s+500\.0ms/);
    expect(lines.find((l) => l.includes('book-3'))).toMatch(
      /^>book-3\s+yes\s+down\s+50%\s+2\.50s\s+79\s+40\/41\s+13\.91s/,
    );
    // The newest events are shown, cut to the width; the keys line stays at the bottom.
    expect(lines.some((l) => l.startsWith(' 00:29 event number 29'))).toBe(true);
    expect(lines.some((l) => l.includes('event number 5 '))).toBe(false);
    expect(lines.at(-1)).toMatch(/q quit$/);
  });

  it('degrades to a smaller terminal without overflowing', () => {
    const lines = renderView(state, 60, 14);
    expect(lines).toHaveLength(14);
    for (const line of lines) expect(line.length).toBeLessThanOrEqual(60);
    expect(lines.filter((l) => /book-\d/.test(l))).toHaveLength(3);
  });

  it('prints one plain line per sample when stdout is not a terminal', () => {
    expect(renderPlain(state.sample!)).toBe(
      '01:15 book-1 up hit=93% missed=0 stale=0/0 | book-2 down hit=- missed=3 stale=1/2 | book-3 down hit=50% missed=79 stale=40/41',
    );
  });
});
