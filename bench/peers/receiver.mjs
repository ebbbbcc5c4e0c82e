// One receiving process of a peer system, for the peer rows of make bench (bench/lag/peer-lag.ts): the peer's
// own local cache, kept in sync by the peer's own mechanism, with nothing else in the process.
//   node receiver.mjs bentocache <redis-url> <store> [<meter from, epoch ms>]
//     BentoCache 1.6 (memory L1, Redis L2, Redis bus); keys "t:<publish time, epoch ms>"; prints
//     "ready" once its store exists (its bus subscribes then), and on the delete of "end"
//     {lags (ms), cpuUs, allocatedBytes} as JSON.
//   node receiver.mjs node-redis <redis-url> <key prefix> <count> [<meter from, epoch ms>|-] [<warm>]
//     node-redis client-side caching (RESP3 tracking); reads and caches <prefix>0..<count-1> and
//     <prefix>end (and <warm> warm-up keys <prefix>w0.. and <prefix>wdone), prints "ready", and on
//     the invalidation of <prefix>end {evicted: every [key, eviction time], cpuUs, allocatedBytes}
//     as JSON (the bench knows when it wrote each key).
// Warm-up invalidations (publisher.mjs with <warm>) are applied and not recorded; their marker
// ("w:done", "<prefix>wdone") restarts the meters.
// cpuUs and allocatedBytes: the process's CPU time and V8 heap allocation from "ready", or from the
// given time or the warm-up's marker if later (just before the writers of a run at once start), to the end.
import { GCProfiler, getHeapStatistics } from 'node:v8';

const [system, url, name, ...rest] = process.argv.slice(2);
const [count, meterArg, warmArg] = system === 'node-redis' ? rest : [undefined, rest[0]];
const meterFrom = meterArg === undefined || meterArg === '-' ? undefined : Number(meterArg);
const warm = Number(warmArg ?? 0);
const USAGE =
  'usage: node bench/peers/receiver.mjs bentocache <redis-url> <store> [<meter from>] | node-redis <redis-url> <prefix> <count> [<meter from>|-] [<warm>]\n(a receiving process of the peer rows of make bench; see the comment at the top of this file)\n';
if (system === '--help') {
  process.stdout.write(USAGE);
  process.exit(0);
}
const now = () => performance.timeOrigin + performance.now();

/** From now on: CPU time, and heap allocated (what each collection freed plus the growth in use). */
function meter() {
  const cpu = process.cpuUsage();
  const profiler = new GCProfiler();
  profiler.start();
  const used = getHeapStatistics().used_heap_size;
  return () => {
    const { user, system: sys } = process.cpuUsage(cpu);
    const freed = (profiler.stop()?.statistics ?? []).reduce(
      (sum, gc) => sum + gc.beforeGC.heapStatistics.usedHeapSize - gc.afterGC.heapStatistics.usedHeapSize,
      0,
    );
    return { cpuUs: user + sys, allocatedBytes: Math.max(0, freed + getHeapStatistics().used_heap_size - used) };
  };
}
let measured;
const finish = (result) =>
  process.stdout.write(`${JSON.stringify({ ...result, ...measured() })}\n`, () => process.exit(0));
const ready = () => {
  measured = meter();
  process.stdout.write('ready\n');
  // The lead before a run at once is idle time of another length for every system: not the run's.
  const lead = meterFrom === undefined ? 0 : meterFrom - now();
  if (lead > 0) setTimeout(restartMeter, lead);
};
const restartMeter = () => {
  measured(); // stops its GC profiler
  measured = meter();
};
/** The warm-up is over: the meters start now, unless a later start was given. */
const warmedUp = () => {
  if (meterFrom === undefined || now() >= meterFrom) restartMeter();
};

if (system === 'bentocache') {
  const { openBento } = await import('./bento.mjs');
  const bento = await openBento(url, name);
  const lags = [];
  bento.on('bus:message:received', ({ message }) => {
    // Emitted right before BentoCache deletes the keys from its L1, in the same synchronous run:
    // the microtask sees the eviction done.
    queueMicrotask(() => {
      const at = now();
      for (const key of message.keys) {
        const match = /t:([0-9.]+)$/.exec(key);
        if (match) lags.push(at - Number(match[1]));
        else if (key.endsWith('w:done')) warmedUp();
        else if (key.endsWith('end')) finish({ lags });
      }
    });
  });
  ready();
} else if (system === 'node-redis') {
  const { BasicClientSideCache, createClient } = await import('redis');
  const cache = new BasicClientSideCache({ ttl: 0, maxEntries: 0 });
  const client = createClient({ url, RESP: 3, clientSideCache: cache });
  await client.connect();
  const keys = [
    ...Array.from({ length: Number(count) }, (_, i) => `${name}${i}`),
    ...Array.from({ length: warm }, (_, i) => `${name}w${i}`),
  ];
  for (let i = 0; i < keys.length; i += 500) await Promise.all(keys.slice(i, i + 500).map((key) => client.get(key)));
  await client.get(`${name}end`);
  if (warm > 0) await client.get(`${name}wdone`);
  const warmKey = `${name}w`;
  const evicted = [];
  // Emitted after the entry is deleted from the cache.
  cache.on('invalidate', (key) => {
    if (key === null) return;
    const at = now();
    const text = key.toString();
    if (text === `${name}end`) finish({ evicted });
    else if (text === `${name}wdone`) warmedUp();
    else if (!text.startsWith(warmKey)) evicted.push([text, at]);
  });
  ready();
} else {
  process.stderr.write(USAGE);
  process.exit(2);
}
