import type { Redis } from 'ioredis';

/** The CLIENT LIST line of a replica's subscriber connection (named `<replica>:subscriber`), if connected. */
async function subscriberLine(redis: Redis, replicaId: string): Promise<string | undefined> {
  const list = String(await redis.call('CLIENT', 'LIST', 'TYPE', 'pubsub'));
  return list.split('\n').find((l) => l.includes(` name=${replicaId}:subscriber `));
}

/** The CLIENT LIST id of a replica's subscriber connection, if connected. */
export async function subscriberClientId(redis: Redis, replicaId: string): Promise<string | undefined> {
  const line = await subscriberLine(redis, replicaId);
  return line ? /(?:^|\s)id=(\d+)/.exec(line)?.[1] : undefined;
}

/** Bytes of messages Redis holds for a replica's subscriber (CLIENT LIST omem), or undefined once it is disconnected. */
export async function subscriberBuffer(redis: Redis, replicaId: string): Promise<number | undefined> {
  const line = await subscriberLine(redis, replicaId);
  return line ? Number(/(?:^|\s)omem=(\d+)/.exec(line)?.[1] ?? 0) : undefined;
}

/** Makes Redis drop a replica's subscriber connection, as a network blip or a kill would. */
export async function killSubscriber(redis: Redis, replicaId: string): Promise<void> {
  const id = await subscriberClientId(redis, replicaId);
  if (!id) throw new Error(`no subscriber connection for ${replicaId}`);
  await redis.call('CLIENT', 'KILL', 'ID', id);
}
