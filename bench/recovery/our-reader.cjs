// One replica of the recovery bench (bench/recovery/recovery-bench.ts), this library in one sync
// mode: caches every key of the source (Redis keys rec:0..n-1, JSON {id, version}), prints "ready",
// then reads random keys at a steady rate and, on the line "report" on stdin, prints what it saw
// (see reader-protocol in recovery-bench.ts) and exits.
// usage: node our-reader.cjs <redis-url> <channel> <signing-keys> <mode> <keys> <reads/s> <replica-id>
const { createSyncedCache } = require('@local-cache-sync/core');
const Redis = require('ioredis');
const { startReading } = require('./reading.cjs');

if (process.argv[2] === '--help') {
  process.stdout.write(
    'usage: node bench/recovery/our-reader.cjs <redis-url> <channel> <signing-keys> <mode> <keys> <reads/s> <replica-id>\n',
  );
  process.exit(0);
}

(async () => {
  const [url, channel, keys, mode, count, rate, replicaId] = process.argv.slice(2);
  const source = new Redis(url, { lazyConnect: true });
  source.on('error', () => undefined); // a read that fails is counted by the reader
  await source.connect();
  const cache = await createSyncedCache({
    name: 'rec',
    replicaId,
    bus: { redis: url, channel },
    sync: { mode },
    cache: { ttlSeconds: 3600, maxKeys: Number(count) * 2 },
    signing: { keys },
  });
  let sourceReads = 0;
  // Every key's source reads in the current window (reset on "window"): miss coalescing keeps it at 1.
  let perKey = new Map();
  const load = (key) => async () => {
    sourceReads += 1;
    perKey.set(key, (perKey.get(key) ?? 0) + 1);
    const raw = await source.get(key);
    return raw === null ? undefined : JSON.parse(raw);
  };
  const read = async (i) => {
    const key = `rec:${i}`;
    await cache.getOrLoad(key, load(key));
  };
  await startReading({
    count: Number(count),
    rate: Number(rate),
    read,
    sourceReads: () => sourceReads,
    size: () => cache.size,
    maxPerKey: () => Math.max(0, ...perKey.values()),
    newWindow: () => {
      perKey = new Map();
    },
    close: async () => {
      await cache.close();
      source.disconnect();
    },
  });
})().catch((error) => {
  process.stderr.write(`${error.stack}\n`);
  process.exit(1);
});
