// The BentoCache that the peer publisher and receivers share: memory L1, Redis L2, Redis bus.
import { BentoCache, bentostore } from 'bentocache';
import { memoryDriver } from 'bentocache/drivers/memory';
import { redisBusDriver, redisDriver } from 'bentocache/drivers/redis';
import { Redis } from 'ioredis';

/** A BentoCache whose store `name` exists, so its bus is subscribing (BentoCache makes a store on first use). */
export async function openBento(url, name) {
  const bento = new BentoCache({
    default: name,
    stores: {
      [name]: bentostore()
        .useL1Layer(memoryDriver({ maxItems: 100_000 }))
        .useL2Layer(redisDriver({ connection: new Redis(url) }))
        .useBus(redisBusDriver({ connection: new Redis(url) })),
    },
    prefix: name,
  });
  await bento.get({ key: 'warm' });
  return bento;
}
