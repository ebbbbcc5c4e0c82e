import { startMongo, startRedis } from '../../local-stack/processes';

/** Starts one redis-server and one MongoDB-wire server for the whole run, unless the env names existing ones. */
export default async function globalSetup(): Promise<void> {
  const started: { destroy(): Promise<void> }[] = [];
  if (!process.env.REDIS_URL) {
    const redis = await startRedis();
    started.push(redis);
    process.env.REDIS_URL = redis.url;
    process.env.TEST_REDIS_PID = String(redis.pid);
  }
  if (!process.env.MONGODB_URI) {
    const mongo = await startMongo();
    started.push(mongo);
    process.env.MONGODB_URI = mongo.uri;
    process.env.MONGO_WIRE_SERVER = mongo.kind;
    process.env.TEST_MONGO_PID = String(mongo.pid);
  }
  process.stdout.write(
    `\ntest servers: redis ${process.env.REDIS_URL}, ${process.env.MONGO_WIRE_SERVER ?? 'MongoDB'} ${process.env.MONGODB_URI}\n`,
  );
  (globalThis as { __testServers?: typeof started }).__testServers = started;
}
