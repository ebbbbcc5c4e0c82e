// Measures what node-cache's useClones costs on a get, against a plain Map, for a book-sized value.
// Run: npx tsx-free: `npm run bench:clone` (compiled by swc through jest's transform is not needed; see package.json).
import NodeCache from 'node-cache';

const book = {
  id: '6566f0c1a1b2c3d4e5f60718',
  name: 'The Left Hand of Darkness',
  author: 'Ursula K. Le Guin',
  year: 1969,
  version: 12,
  updatedAt: '2026-11-25T12:00:00.000Z',
};

function measure(label: string, get: (key: string) => unknown, keys: string[], rounds = 2_000_000): number {
  for (let i = 0; i < 200_000; i += 1) get(keys[i % keys.length]!);
  const started = process.hrtime.bigint();
  let sink = 0;
  for (let i = 0; i < rounds; i += 1) sink += get(keys[i % keys.length]!) ? 1 : 0;
  const ns = Number(process.hrtime.bigint() - started) / rounds;
  if (sink !== rounds) throw new Error('lookup missed');
  console.log(`${label.padEnd(28)} ${ns.toFixed(1).padStart(8)} ns/get`);
  return ns;
}

const keys = Array.from({ length: 1000 }, (_, i) => `id:${i}`);
const cloned = new NodeCache({ useClones: true, checkperiod: 0 });
const shared = new NodeCache({ useClones: false, checkperiod: 0 });
const map = new Map<string, unknown>();
for (const key of keys) {
  cloned.set(key, { ...book });
  shared.set(key, Object.freeze({ ...book }));
  map.set(key, book);
}
const clonedNs = measure('node-cache useClones: true', (k) => cloned.get(k), keys, 300_000);
const sharedNs = measure('node-cache useClones: false', (k) => shared.get(k), keys);
const mapNs = measure('Map', (k) => map.get(k), keys);
console.log(`clone cost: ${(clonedNs / sharedNs).toFixed(0)}x a get without clones; without clones a get is ${(sharedNs / mapNs).toFixed(1)}x a Map get`);
