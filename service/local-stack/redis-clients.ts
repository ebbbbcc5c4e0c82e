import type { Redis } from 'ioredis';

/** The CLIENT LIST id of a replica's subscriber connection (named `<replica>:subscriber`), if connected. */
export async function subscriberClientId(redis: Redis, replicaId: string): Promise<string | undefined> {
  const list = String(await redis.call('CLIENT', 'LIST', 'TYPE', 'pubsub'));
  const line = list.split('\n').find((l) => l.includes(` name=${replicaId}:subscriber `));
  return line ? /(?:^|\s)id=(\d+)/.exec(line)?.[1] : undefined;
}

/** Makes Redis drop a replica's subscriber connection, as a network blip or a kill would. */
export async function killSubscriber(redis: Redis, replicaId: string): Promise<void> {
  const id = await subscriberClientId(redis, replicaId);
  if (!id) throw new Error(`no subscriber connection for ${replicaId}`);
  await redis.call('CLIENT', 'KILL', 'ID', id);
}
