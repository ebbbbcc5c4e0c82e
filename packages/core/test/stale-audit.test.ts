import { waitFor } from '../../../service/local-stack/processes';
import { StaleAudit, type WrittenAfter } from '../src/sync/stale-audit';

/** The sampled check of hits: every finished check is counted, stale or not, so stale reads have a denominator. */
describe('StaleAudit', () => {
  const audit = (writtenAfter: WrittenAfter, acknowledgedAfter?: WrittenAfter) => {
    const events: string[] = [];
    let pending = 0;
    const stale = new StaleAudit({
      writtenAfter,
      acknowledgedAfter,
      sampleRate: 1,
      graceMs: 10,
      observer: {
        onHitChecked: (isStale, age) => {
          events.push(`checked ${isStale ? 'stale' : 'fresh'}`);
          if (isStale) events.push(`stale read ${age!.toFixed(1)} s`);
        },
        onHitUnacknowledged: (age) => events.push(`unacknowledged ${age.toFixed(1)} s`),
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

  it('with acknowledgments, counts a hit stale only once a newer write was acknowledged before it, and apart before that', async () => {
    const servedAt = 100_000;
    const asked: string[] = [];
    // Every book below had a newer version committed 3 s before the hit; acknowledged at different times.
    const acknowledged: Record<string, number | undefined> = {
      acked: servedAt - 1_000,
      'acked-within-grace': servedAt - 5,
      'acked-after': servedAt + 500,
      'never-acked': undefined,
    };
    const { stale, events, pending } = audit(
      async (id) => (id === 'current' ? undefined : servedAt - 3_000),
      async (id) => {
        asked.push(id);
        return acknowledged[id];
      },
    );
    for (const id of ['current', ...Object.keys(acknowledged)]) stale.hit({ id, version: 1 }, servedAt);
    await waitFor(() => pending() === 0 && events.length === 9, { message: 'every check done' });
    // Stale by its acknowledgment (age from it), the others counted apart with their age since the commit.
    expect(events.filter((e) => e.startsWith('stale') || e.startsWith('unack')).sort()).toEqual([
      'stale read 1.0 s',
      'unacknowledged 3.0 s',
      'unacknowledged 3.0 s',
      'unacknowledged 3.0 s',
    ]);
    expect(events.filter((e) => e.startsWith('checked')).sort()).toEqual([
      'checked fresh',
      'checked fresh',
      'checked fresh',
      'checked fresh',
      'checked stale',
    ]);
    // Only a hit that looked stale by its commit asks the second question.
    expect(asked.sort()).toEqual(Object.keys(acknowledged).sort());
  });

  it('asks again when the first answer names a time still to come: an acknowledgment may be recorded late', async () => {
    const servedAt = Date.now();
    const answers: number[] = [];
    // The newer write was committed 1 s before the hit and acknowledged 100 ms before it, but that
    // acknowledgment is recorded only after the first question: until then the answer is the
    // commit plus a wait, 200 ms from now.
    let recorded = false;
    const { stale, events, pending } = audit(
      async () => servedAt - 1_000,
      async () => {
        const answer = recorded ? servedAt - 100 : Date.now() + 200;
        answers.push(answer);
        recorded = true;
        return answer;
      },
    );
    stale.hit({ id: 'late-ack', version: 1 }, servedAt);
    await waitFor(() => pending() === 0 && events.length === 2, { message: 'the check done' });
    expect(events).toEqual(['checked stale', 'stale read 0.1 s']);
    expect(answers).toHaveLength(2);
  });
});
