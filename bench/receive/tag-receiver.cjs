// One receiving replica of the tag-eviction bench (bench/receive/tag-eviction.ts): fills its cache
// with `entries` entries tagged author:bench (and book:<id>) after three warm-up rounds, prints "ready", and once a peer's
// tag invalidation is applied prints when (epoch ms, sub-millisecond), how many entries it
// evicted and the message's publishedAt, then exits.
// usage: node tag-receiver.cjs <redis-url> <channel> <signing-keys> <entries> <replica-id>
const { createSyncedCache } = require('@local-cache-sync/core');
const { preciseNow } = require('@local-cache-sync/core/wire');

(async () => {
  const [redis, channel, keys, entries, replicaId] = process.argv.slice(2);
  const count = Number(entries);
  const cache = await createSyncedCache({
    name: 'book',
    replicaId,
    bus: { redis, channel },
    sync: { mode: 'stream' },
    cache: { maxKeys: count * 2 },
    signing: { keys },
  });
  const fill = async (tag) => {
    for (let n = 0; n < count; n += 1) {
      const id = n.toString(16).padStart(24, '0');
      await cache.getOrLoad(`id:${id}`, async () => ({ id, version: 1 }), { tags: [tag, `book:${id}`] });
    }
    if (cache.size !== count) throw new Error(`cached ${cache.size} of ${count}`);
  };
  // Warm, as a replica that has run a while is: the eviction path compiled, the heap settled.
  for (let round = 0; round < 3; round += 1) {
    await fill(`warm:${replicaId}`);
    await cache.invalidateTags([`warm:${replicaId}`]);
  }
  await fill('author:bench');
  let publishedAt = Number.NaN;
  cache.observe({
    onMessage: (message) => {
      if (message.type === 'tags') publishedAt = message.publishedAt;
    },
    onTagInvalidation: ({ origin, evictedKeys }) => {
      if (origin !== 'tag-sender') return;
      const at = preciseNow();
      process.stdout.write(`${JSON.stringify({ at, evicted: evictedKeys, publishedAt })}\n`);
      void cache.close().then(() => process.exit(0));
    },
  });
  process.stdout.write('ready\n');
})().catch((error) => {
  console.error(error);
  process.exit(1);
});
