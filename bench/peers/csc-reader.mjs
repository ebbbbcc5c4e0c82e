// One replica of the recovery bench (bench/recovery/recovery-bench.ts) for node-redis client-side
// caching (RESP3 tracking, its defaults): the same reading loop as this library's replica
// (bench/recovery/reading.cjs), its source reads counted as the cache's misses.
// usage: node csc-reader.mjs <redis-url> <keys> <reads/s>
import { createRequire } from 'node:module';
import { BasicClientSideCache, createClient } from 'redis';

if (process.argv[2] === '--help') {
  process.stdout.write('usage: node bench/peers/csc-reader.mjs <redis-url> <keys> <reads/s>\n');
  process.exit(0);
}
const { startReading } = createRequire(import.meta.url)('../recovery/reading.cjs');
const [url, count, rate] = process.argv.slice(2);
const cache = new BasicClientSideCache({ ttl: 0, maxEntries: 0 });
const client = createClient({ url, RESP: 3, clientSideCache: cache });
client.on('error', () => undefined); // a read that fails is counted by the reader
await client.connect();
// Its stats start again from 0 when it clears itself on a connection error: keep the count going.
let [before, last] = [0, 0];
const misses = () => {
  const now = cache.stats().missCount;
  if (now < last) before += last;
  last = now;
  return before + now;
};
await startReading({
  count: Number(count),
  rate: Number(rate),
  read: (i) => client.get(`rec:${i}`),
  sourceReads: misses,
  size: () => cache.size(),
  // Its loads are not visible one by one.
  maxPerKey: () => null,
  newWindow: () => undefined,
  close: async () => client.destroy(),
});
