import { execFileSync } from 'node:child_process';
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { createSyncedCache, type SyncedCache } from '@local-cache-sync/core';
import { type Item, uniqueName, until } from './fixtures';

const ROOT = join(__dirname, '../../..');
/** Built from this repository's history by scripts/build-compat-package.sh (committed: clones without history run it too). */
const TARBALL = join(ROOT, 'packages/core/compat/local-cache-sync-core-0.1.0.tgz');
/** Under a node_modules folder inside the repository: its dependencies resolve to the repository's, and Jest does not transform it. */
const INSTALLED = join(ROOT, '.cache/compat-0.1/node_modules/@local-cache-sync/core');

/** The 0.1.0 API, as far as this test uses it. */
interface OldCache {
  getOrLoad(key: string, loader: () => Promise<Item>): Promise<{ value: Item | undefined; hit: boolean }>;
  announce(change: { keys: string[]; id: string; version: number; op: 'update'; committedAt: number }): Promise<void>;
  peek(key: string): Item | undefined;
  trusted(): boolean;
  close(): Promise<void>;
}
interface OldLibrary {
  createSyncedCache(options: Record<string, unknown>): Promise<OldCache>;
}

const item = (id: string, version = 1): Item => ({ id, version, title: `${id} v${version}` });

/**
 * A replica still on 0.1.0 shares a channel with one on this version. Key invalidations work both
 * ways (envelope v1 did not change). A tag invalidation or a clear, kinds 0.1.0 does not know, is
 * rejected there and counted (`invalid_envelope`); its sequence number never arrives, so the next
 * message from the new replica shows a gap: counted as missed, and recovered from as the mode
 * says. Nothing is ignored silently.
 */
describe('a 0.1.0 replica on the same channel as this version', () => {
  let old: OldLibrary;
  const open: (OldCache | SyncedCache<Item>)[] = [];
  beforeAll(() => {
    rmSync(INSTALLED, { recursive: true, force: true });
    mkdirSync(INSTALLED, { recursive: true });
    execFileSync('tar', ['-xzf', TARBALL, '-C', INSTALLED, '--strip-components=1']);
    old = require(INSTALLED) as OldLibrary;
  });
  afterEach(async () => {
    await Promise.all(open.splice(0).map((cache) => cache.close()));
  });

  const start = async (mode: 'pubsub-flush' | 'stream') => {
    const redis = process.env.REDIS_URL ?? '';
    const channel = uniqueName('compat');
    const heard = { rejected: [] as string[], missed: 0, recovered: [] as string[], replayed: [] as number[] };
    const older = await old.createSyncedCache({
      name: 'item',
      replicaId: uniqueName('old'),
      redis,
      channel,
      mode,
      heartbeatIntervalMs: 50,
      silenceMs: 60_000,
      jitterMs: 0,
      observers: [
        {
          onRejected: (reason: string) => heard.rejected.push(reason),
          onMissed: (count: number) => (heard.missed += count),
          onRecovered: (reason: string) => heard.recovered.push(reason),
          onReplayed: (applied: number) => heard.replayed.push(applied),
        },
      ],
    });
    open.push(older);
    const newer = await createSyncedCache<Item>({
      name: 'item',
      replicaId: uniqueName('new'),
      bus: { redis, channel, heartbeatIntervalMs: 50 },
      sync: { mode, silenceMs: 60_000, jitterMs: 0 },
    });
    open.push(newer);
    await until(() => older.trusted() && newer.trusted(), 'both trust their caches');
    return { older, newer, heard };
  };

  it('applies key invalidations both ways', async () => {
    const { older, newer } = await start('pubsub-flush');
    await older.getOrLoad('item:1', async () => item('1'));
    await newer.getOrLoad('item:2', async () => item('2'));
    await newer.announce({ keys: ['item:1'], id: '1', version: 2, op: 'update' });
    await older.announce({ keys: ['item:2'], id: '2', version: 2, op: 'update', committedAt: Date.now() });
    await until(() => older.peek('item:1') === undefined || newer.peek('item:2') === undefined, 'one evicted');
    await until(() => older.peek('item:1') === undefined && newer.peek('item:2') === undefined, 'both evicted');
    expect([older.peek('item:1'), newer.peek('item:2')]).toEqual([undefined, undefined]);
  });

  it.each(['tag invalidation', 'clear'] as const)(
    'pubsub-flush: counts a %s it cannot read as rejected and missed, and flushes',
    async (kind) => {
      const { older, newer, heard } = await start('pubsub-flush');
      await older.getOrLoad('item:1', async () => item('1'));
      // Expected: 0.1.0 rejects the message (invalid_envelope), the new replica's next heartbeat
      // shows its number missing (1 missed), and pubsub-flush flushes the cache on that gap.
      if (kind === 'clear') await newer.clear();
      else await newer.invalidateTags(['t']);
      await until(() => heard.recovered.length > 0, 'the old replica recovered from the gap');
      expect(heard.rejected).toEqual(['invalid_envelope']);
      expect([heard.missed, heard.recovered, older.peek('item:1')]).toEqual([1, ['gap'], undefined]);
    },
  );

  it('stream: counts it as rejected and missed; its replay cannot apply it (upgrade every replica before using tags)', async () => {
    const { older, newer, heard } = await start('stream');
    await older.getOrLoad('item:1', async () => item('1'));
    await newer.invalidateTags(['t']);
    await until(() => heard.replayed.length > 0 && older.trusted(), 'the old replica replayed');
    expect([heard.rejected, heard.missed, heard.recovered, heard.replayed]).toEqual([
      ['invalid_envelope'],
      1,
      ['gap'],
      [0],
    ]);
    // 0.1.0 replays only what it can read: the entry a tag invalidation meant to evict stays.
    expect(older.peek('item:1')).toEqual(item('1'));
  });
});
