import { waitFor } from '../../../service/local-stack/processes';
import { StaleAudit, type WrittenAfter } from '../src/sync/stale-audit';

/** The sampled check of hits: every finished check is counted, stale or not, so stale reads have a denominator. */
describe('StaleAudit', () => {
  const audit = (writtenAfter: WrittenAfter) => {
    const events: string[] = [];
    let pending = 0;
    const stale = new StaleAudit({
      writtenAfter,
      sampleRate: 1,
      graceMs: 10,
      observer: {
        onHitChecked: (isStale, age) => {
          events.push(`checked ${isStale ? 'stale' : 'fresh'}`);
          if (isStale) events.push(`stale read ${age!.toFixed(1)} s`);
        },
        onError: (error, during) => events.push(`failed: ${error.message}${during === 'audit' ? '' : ` (${during})`}`),
        onChecksPending: (change) => {
          pending += change;
        },
      },
    });
    return { stale, events, pending: () => pending };
  };

  it('counts a checked hit fresh when the source has no newer version, stale when it had one before the hit', async () => {
    const servedAt = 100_000;
    const { stale, events, pending } = audit(async (id) => (id === 'old' ? servedAt - 2_000 : undefined));
    stale.hit({ id: 'current', version: 3 }, servedAt);
    stale.hit({ id: 'old', version: 1 }, servedAt);
    await waitFor(() => pending() === 0 && events.length === 3, { message: 'both checks done' });
    expect(events.sort()).toEqual(['checked fresh', 'checked stale', 'stale read 2.0 s']);
  });

  it('counts no check for an answer nobody received, nor for a source that could not answer', async () => {
    const { stale, events, pending } = audit(async (id) => {
      if (id === 'down') throw new Error('database down');
      return undefined;
    });
    stale.hit({ id: 'undelivered', version: 1 }, 1, () => false);
    stale.hit({ id: 'down', version: 1 }, 1);
    await waitFor(() => pending() === 0 && events.length === 1, { message: 'the checks ended' });
    expect(events).toEqual(['failed: database down']);
  });
});
