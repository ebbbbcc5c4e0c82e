import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { channelKeys } from '@local-cache-sync/core/transport';
import { Redis } from 'ioredis';
import pino from 'pino';
import { ROOT, type ServerProcess, startRedis, waitFor } from '../../local-stack/processes';
import { replicaAclRules } from '../../local-stack/redis-acl';
import { createReplica } from '../../src/wiring/replica';
import { http, metricValue, type RunningReplica, startCluster, testConfig, uniqueName } from '../harness/replicas';

/** The ACL line docs/security.md gives users is the one the local stack and compose apply. */
const docsAclLine = () => /^ACL SETUSER .+$/m.exec(readFileSync(join(ROOT, 'docs/security.md'), 'utf8'))?.[0];

describe('Redis with a least-privilege ACL user', () => {
  let redis: ServerProcess & { url: string };
  let admin: Redis;
  let replicas: RunningReplica[] = [];
  const channel = uniqueName('book-channel');
  const password = 'acl-user-password-0123';

  beforeAll(async () => {
    redis = await startRedis();
    admin = new Redis(redis.url);
    await admin.call('ACL', 'SETUSER', 'book-replica', 'on', `>${password}`, ...replicaAclRules(channel));
    const url = `redis://book-replica:${password}@127.0.0.1:${redis.port}`;
    replicas = await startCluster(2, {
      REDIS_URL: url,
      INVALIDATION_CHANNEL: channel,
      SYNC_MODE: 'stream',
      CHAOS_ENABLED: true,
    });
  });
  afterAll(async () => {
    await Promise.all(replicas.map((r) => r.stop()));
    admin?.disconnect();
    await redis?.destroy();
  });

  it('syncs: heartbeats, membership, invalidations and stream replay all work with it', async () => {
    const [writer, reader] = replicas as [RunningReplica, RunningReplica];
    const id = (await http('POST', `${writer.url}/books`, { name: 'ACL', author: 'n/a', year: 1 })).json.id as string;
    await http('GET', `${reader.url}/books/${id}`);
    const v2 = (await http('PATCH', `${writer.url}/books/${id}`, { year: 2 })).json.version;
    await waitFor(() => reader.cache.peek(`id:${id}`) === undefined, { message: 'evicted through Pub/Sub' });
    await http('GET', `${reader.url}/books/${id}`);
    const replayedBefore = await metricValue(reader, 'cache_invalidations_replayed_total');
    const resume = await reader.chaos!.holdSubscriber();
    const v3 = (await http('PATCH', `${writer.url}/books/${id}`, { year: 3 })).json.version;
    await resume();
    await waitFor(() => reader.transport.subscriberState === 'up' && reader.cache.trusted(), { message: 'recovered' });
    await waitFor(async () => (await metricValue(reader, 'cache_invalidations_replayed_total')) > replayedBefore, {
      message: 'the missed write replayed from the log (under the ACL)',
    });
    expect((await http('GET', `${reader.url}/books/${id}`)).json.version).toBe(v3);
    expect(v3).toBe((v2 as number) + 1);
    expect(await admin.zcard(channelKeys(channel).members)).toBe(2);
    expect(await admin.xlen(channelKeys(channel).log)).toBeGreaterThan(0);
  });

  it('is the ACL docs/security.md gives', () => {
    expect(docsAclLine()).toBe(`ACL SETUSER book-replica on >CHANGE-ME ${replicaAclRules('book-channel').join(' ')}`);
  });

  it('cannot flush, read other keys, or publish on other channels', async () => {
    await admin.set('someone-else:secret', 'x');
    const user = new Redis(`redis://book-replica:${password}@127.0.0.1:${redis.port}`);
    try {
      await expect(user.flushall()).rejects.toThrow(/NOPERM/);
      await expect(user.get('someone-else:secret')).rejects.toThrow(/NOPERM/);
      await expect(user.publish('other-channel', 'x')).rejects.toThrow(/NOPERM/);
      await expect(user.call('CONFIG', 'GET', '*')).rejects.toThrow(/NOPERM/);
      // Both replicas are subscribed to it.
      expect(await user.publish(channel, 'allowed')).toBe(2);
    } finally {
      user.disconnect();
    }
  });
});

describe('Redis over TLS (rediss://)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'lcs-tls-'));
  let redis: ServerProcess & { url: string };
  let url = '';
  let replicas: RunningReplica[] = [];
  const openssl = (...args: string[]) => {
    const run = spawnSync('openssl', args, { cwd: dir, encoding: 'utf8' });
    if (run.status !== 0) throw new Error(`openssl ${args[0]}: ${run.stderr}`);
  };

  beforeAll(async () => {
    // A CA of our own, and a server certificate it signs for 127.0.0.1.
    openssl(
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-days',
      '1',
      '-subj',
      '/CN=test-ca',
      '-keyout',
      'ca.key',
      '-out',
      'ca.pem',
    );
    openssl(
      'req',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-subj',
      '/CN=127.0.0.1',
      '-keyout',
      'server.key',
      '-out',
      'server.csr',
    );
    writeFileSync(join(dir, 'san.cnf'), 'subjectAltName=IP:127.0.0.1\n');
    openssl(
      'x509',
      '-req',
      '-in',
      'server.csr',
      '-CA',
      'ca.pem',
      '-CAkey',
      'ca.key',
      '-CAcreateserial',
      '-days',
      '1',
      '-extfile',
      'san.cnf',
      '-out',
      'server.pem',
    );
    redis = await startRedis([], {
      cert: join(dir, 'server.pem'),
      key: join(dir, 'server.key'),
      ca: join(dir, 'ca.pem'),
    });
    url = redis.url;
  });
  afterAll(async () => {
    await Promise.all(replicas.map((r) => r.stop()));
    await redis?.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  it('syncs over TLS when given the CA', async () => {
    replicas = await startCluster(2, { REDIS_URL: url, REDIS_TLS_CA_FILE: join(dir, 'ca.pem') });
    const [writer, reader] = replicas as [RunningReplica, RunningReplica];
    const id = (await http('POST', `${writer.url}/books`, { name: 'TLS', author: 'n/a', year: 1 })).json.id as string;
    await http('GET', `${reader.url}/books/${id}`);
    expect(reader.cache.peek(`id:${id}`)).toBeDefined();
    await http('PATCH', `${writer.url}/books/${id}`, { year: 2 });
    await waitFor(() => reader.cache.peek(`id:${id}`) === undefined, { message: 'evicted over TLS' });
  });

  it('refuses a certificate it cannot verify, with an error that says so', async () => {
    const started = createReplica(testConfig({ REDIS_URL: url }), pino({ level: 'silent' }));
    await expect(started).rejects.toThrow(/certificate/i);
  });
});
