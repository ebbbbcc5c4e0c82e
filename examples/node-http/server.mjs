// A second user of @local-cache-sync/core: plain node:http and the MongoDB native driver, no Koa,
// no mongoose, no prom-client. Run two of these on one Redis and one MongoDB; see README.md.
import { createServer } from 'node:http';
import { createSyncedCache } from '@local-cache-sync/core';
import { MongoClient } from 'mongodb';

const env = process.env;
const mongo = await MongoClient.connect(env.MONGODB_URI ?? 'mongodb://127.0.0.1:27017/notes');
const notes = mongo.db().collection('notes');
const stats = { hits: 0, misses: 0, missed: 0 };
const count = (name, n = 1) => {
  stats[name] += n;
};
const cache = await createSyncedCache({
  name: 'note',
  replicaId: env.REPLICA_ID,
  bus: { redis: env.REDIS_URL ?? 'redis://127.0.0.1:6379' },
  sync: { mode: env.SYNC_MODE ?? 'stream' },
  signing: env.SYNC_SIGNING_KEYS ? { keys: env.SYNC_SIGNING_KEYS } : undefined,
  observers: [{ onHit: () => count('hits'), onMiss: () => count('misses'), onMissed: (n) => count('missed', n) }],
});
const load = (id) => async () => {
  const doc = await notes.findOne({ _id: id });
  return doc && { id, version: doc.version, text: doc.text };
};

const server = createServer(async (req, res) => {
  const send = (status, body, headers = {}) => {
    res.writeHead(status, { 'content-type': 'application/json', ...headers });
    res.end(JSON.stringify(body));
  };
  try {
    const id = /^\/notes\/([\w-]{1,64})$/.exec(req.url ?? '')?.[1];
    if (req.url === '/stats') return send(200, { ...stats, trusted: cache.trusted() });
    if (!id) return send(404, { error: 'not found' });
    if (req.method === 'GET') {
      const { value, hit } = await cache.getOrLoad(`note:${id}`, load(id));
      return value ? send(200, value, { 'x-cache': hit ? 'HIT' : 'MISS' }) : send(404, { error: 'no such note' });
    }
    if (req.method !== 'PUT') return send(405, { error: 'GET or PUT' });
    let body = '';
    for await (const chunk of req) {
      body += chunk;
      if (body.length > 16_384) return send(413, { error: 'too large' });
    }
    const text = JSON.parse(body).text;
    if (typeof text !== 'string') return send(400, { error: 'text must be a string' });
    // One atomic update bumps the version; the change is announced only after it committed.
    const doc = await notes.findOneAndUpdate(
      { _id: id },
      { $set: { text }, $inc: { version: 1 } },
      { upsert: true, returnDocument: 'after' },
    );
    const op = doc.version === 1 ? 'create' : 'update';
    await cache
      .announce({ keys: [`note:${id}`], id, version: doc.version, op })
      .catch((error) => console.warn('invalidation not published:', error.message));
    send(200, { id, version: doc.version, text });
  } catch (error) {
    send(error instanceof SyntaxError ? 400 : 500, { error: error instanceof SyntaxError ? 'bad JSON' : 'failed' });
  }
});
server.listen(Number(env.PORT ?? 3000), '127.0.0.1', () => console.log(`listening on ${server.address().port}`));
process.once('SIGTERM', async () => {
  server.close();
  await cache.close();
  await mongo.close();
});
