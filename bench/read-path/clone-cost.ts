import NodeCache from 'node-cache';

/** A book as the service caches it. */
export const SAMPLE_BOOK = Object.freeze({
  id: '6566f0c1a1b2c3d4e5f60718',
  name: 'The Left Hand of Darkness',
  author: 'Ursula K. Le Guin',
  year: 1969,
  version: 12,
  updatedAt: '2026-11-25T12:00:00.000Z',
});

export interface CloneCost {
  clonedNsPerGet: number;
  sharedNsPerGet: number;
  mapNsPerGet: number;
}

function nsPerGet(get: (key: string) => unknown, keys: string[], rounds: number): number {
  for (let i = 0; i < Math.min(rounds, 200_000); i += 1) get(keys[i % keys.length]!);
  const started = process.hrtime.bigint();
  let found = 0;
  for (let i = 0; i < rounds; i += 1) found += get(keys[i % keys.length]!) ? 1 : 0;
  const ns = Number(process.hrtime.bigint() - started) / rounds;
  if (found !== rounds) throw new Error('lookup missed');
  return ns;
}

/** What node-cache's useClones costs on a get of a book, against no clones and a plain Map. */
export function cloneCost(rounds = 2_000_000): CloneCost {
  const keys = Array.from({ length: 1000 }, (_, i) => `id:${i}`);
  const cloned = new NodeCache({ useClones: true, checkperiod: 0 });
  const shared = new NodeCache({ useClones: false, checkperiod: 0 });
  const map = new Map<string, unknown>();
  for (const key of keys) {
    cloned.set(key, { ...SAMPLE_BOOK });
    shared.set(key, SAMPLE_BOOK);
    map.set(key, SAMPLE_BOOK);
  }
  const result = {
    // Cloning is slow: fewer rounds give the same precision.
    clonedNsPerGet: nsPerGet((k) => cloned.get(k), keys, Math.ceil(rounds / 7)),
    sharedNsPerGet: nsPerGet((k) => shared.get(k), keys, rounds),
    mapNsPerGet: nsPerGet((k) => map.get(k), keys, rounds),
  };
  for (const cache of [cloned, shared]) cache.close();
  return result;
}
