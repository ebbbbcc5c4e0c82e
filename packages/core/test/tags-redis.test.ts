import { gatedLoader, until } from './fixtures';
import { type Item, startReplicas } from './redis-fixtures';

const SIGNING = { keys: `t1:${'k'.repeat(32)}` };

/**
 * Tags and clear on real Redis (stream mode, signed): a load under way on one replica when
 * another clears the cache, or invalidates the load's tag, answers its caller and is not cached;
 * the counters say what happened on each side.
 */
describe('tags and clear across replicas on Redis', () => {
  it.each(['clear', 'tag invalidation'] as const)(
    'a %s during a load on another replica: answered, never cached, counted',
    async (kind) => {
      const { replicas, close } = await startReplicas(2, { sync: { mode: 'stream' }, signing: SIGNING });
      try {
        const [a, b] = replicas as [(typeof replicas)[0], (typeof replicas)[0]];
        await until(() => a.cache.trusted() && b.cache.trusted(), 'both trust their caches');
        await b.cache.getOrLoad('item:2', async () => ({ id: '2', version: 1 }), { tags: ['other'] });
        const gated = gatedLoader<Item>(() => ({ id: '1', version: 1 }));
        const answer = b.cache.getOrLoad('item:1', gated.loader, { tags: ['list'] });
        await until(() => gated.calls() === 1, 'the load started');
        // Expected: b applies the message while its load is under way; the load still answers
        // its caller, but its result is refused (a fill fence), and a clear also evicts item:2
        // while a tag invalidation of `list` leaves it.
        if (kind === 'clear') await a.cache.clear();
        else await a.cache.invalidateTags(['list']);
        const applied = { kind: kind === 'clear' ? 'clear' : 'tags', source: 'remote' };
        let heard = 0;
        await until(() => {
          void b.metric('cache_tag_invalidations_total', applied).then((n) => (heard = n));
          return heard === 1;
        }, 'b applied it');
        gated.releaseAll();
        expect(await answer).toEqual({ value: { id: '1', version: 1 }, hit: false });
        expect({
          item1: b.cache.peek('item:1'),
          item2: b.cache.peek('item:2'),
          refused: await b.metric('cache_fill_fence_rejections_total'),
          local: await a.metric('cache_tag_invalidations_total', { ...applied, source: 'local' }),
          missed: await b.metric('cache_invalidations_missed_total'),
        }).toEqual({
          item1: undefined,
          item2: kind === 'clear' ? undefined : { id: '2', version: 1 },
          refused: 1,
          local: 1,
          missed: 0,
        });
      } finally {
        await close();
      }
    },
  );
});
