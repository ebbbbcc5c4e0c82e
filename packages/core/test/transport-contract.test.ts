import type { RedisTopology, TopologyKind } from '@local-cache-sync/core';
import { MemoryBus } from '@local-cache-sync/core/testing';
import type { InvalidationTransport, MembershipRegistry, SubscriberState } from '@local-cache-sync/core/transport';
import { RedisTransport } from '@local-cache-sync/core/transport';
import { Redis } from 'ioredis';
import { waitFor } from '../../../service/local-stack/processes';
import { killSubscriber } from '../../../service/local-stack/redis-clients';
import { type RedisServers, startRedisCluster, startSentinelSet } from '../../../service/local-stack/redis-topologies';
import { uniqueName } from './fixtures';

interface Harness {
  make(name: string): Promise<InvalidationTransport>;
  membership(): MembershipRegistry;
  /** Drops the subscriber's connection the way the real bus loses it; the transport must come back. */
  dropSubscriber(transport: InvalidationTransport, name: string): Promise<void>;
  close(): Promise<void>;
}

function memoryHarness(): Harness {
  const bus = new MemoryBus();
  return {
    async make() {
      return bus.transport();
    },
    membership: () => bus.membership(),
    async dropSubscriber(transport) {
      const memory = transport as ReturnType<MemoryBus['transport']>;
      memory.setConnected(false);
      setTimeout(() => memory.setConnected(true), 20);
    },
    async close() {},
  };
}

/** Real Redis servers of a topology, started once for the whole suite of that topology. */
let servers: Partial<Record<TopologyKind, RedisServers>> = {};

function redisHarness(kind: TopologyKind): Harness {
  const channel = uniqueName('contract');
  const made: RedisTransport[] = [];
  const topology: RedisTopology =
    kind === 'standalone' ? { kind, url: process.env.REDIS_URL ?? '' } : servers[kind]!.topology();
  const admins: Redis[] = [];
  // The server the subscribers are on: the one Redis, the Sentinels' master, the slot's master.
  const adminOnChannel = async () => {
    const admin =
      kind === 'standalone'
        ? new Redis(process.env.REDIS_URL ?? '')
        : servers[kind]!.client(await servers[kind]!.masterOf(channel));
    admins.push(admin);
    return admin;
  };
  return {
    async make(name) {
      const transport = new RedisTransport({ topology, channel, replicaId: name, log: { maxLen: 1000 } });
      await transport.connect();
      made.push(transport);
      return transport;
    },
    membership: () => made[0]!.membership(),
    async dropSubscriber(_transport, name) {
      await killSubscriber(await adminOnChannel(), name);
    },
    async close() {
      await Promise.all(made.map((t) => t.close()));
      for (const admin of admins) admin.disconnect();
    },
  };
}

beforeAll(async () => {
  servers = { sentinel: await startSentinelSet(), cluster: await startRedisCluster() };
}, 90_000);

afterAll(async () => {
  for (const each of Object.values(servers)) await each.destroy();
});

describe.each([
  ['in-memory', memoryHarness],
  ['Redis Pub/Sub (standalone)', () => redisHarness('standalone')],
  ['Redis Pub/Sub (Sentinel)', () => redisHarness('sentinel')],
  ['Redis sharded Pub/Sub (Cluster)', () => redisHarness('cluster')],
])('transport contract: %s', (_name, makeHarness) => {
  let harness: Harness;
  beforeEach(() => {
    harness = makeHarness();
  });
  afterEach(async () => {
    await harness.close();
  });

  it('delivers every payload, in order, to every subscriber, and reports how many got it', async () => {
    const [sender, x, y] = await Promise.all(['s', 'x', 'y'].map((n) => harness.make(uniqueName(n))));
    const got: Record<string, string[]> = { x: [], y: [] };
    await x!.subscribe((p) => got.x!.push(p));
    await y!.subscribe((p) => got.y!.push(p));
    expect(x!.subscriberState).toBe('up');
    const sent = Array.from({ length: 50 }, (_, i) => `m${i}`);
    const counts = [];
    for (const payload of sent) counts.push(await sender!.publish(payload));
    expect(new Set(counts)).toEqual(new Set([2]));
    await waitFor(() => got.x!.length === 50 && got.y!.length === 50, { message: 'all delivered' });
    expect(got.x).toEqual(sent);
    expect(got.y).toEqual(sent);
  });

  it('goes down and comes back up after losing its subscriber connection, and receives again', async () => {
    const names = [uniqueName('s'), uniqueName('x')];
    const [sender, x] = await Promise.all(names.map((n) => harness.make(n)));
    const states: SubscriberState[] = [];
    x!.onSubscriberState((state) => states.push(state));
    const got: string[] = [];
    await x!.subscribe((p) => got.push(p));
    await harness.dropSubscriber(x!, names[1]!);
    await waitFor(() => states.join(',') === 'up,down,up', { message: `states up,down,up (have ${states})` });
    await waitFor(async () => (await sender!.publish('after')) === 1 && got.includes('after'), {
      message: 'delivery after return',
    });
    expect({ states, got: got.filter((p) => p === 'after').length > 0 }).toEqual({
      states: ['up', 'down', 'up'],
      got: true,
    });
  });

  it('appends to the log and publishes in one step, and the log replays it by time', async () => {
    const [sender, x] = await Promise.all(['s', 'x'].map((n) => harness.make(uniqueName(n))));
    const got: string[] = [];
    await x!.subscribe((p) => got.push(p));
    const before = Date.now() - 1;
    expect(await sender!.publish('live only')).toBe(1);
    expect(await sender!.appendAndPublish('logged')).toBe(1);
    await waitFor(() => got.length === 2, { message: 'both delivered' });
    expect(await sender!.log().readSince(before)).toEqual({ payloads: ['logged'], reachesBack: true });
    expect(await x!.log().readSince(Date.now() + 60_000)).toEqual({ payloads: [], reachesBack: true });
  });

  it('hands out tag-and-clear versions from one counter every transport on the channel shares, in order', async () => {
    const [x, y] = await Promise.all(['x', 'y'].map((n) => harness.make(uniqueName(n))));
    const versions = [await x!.nextVersion(), await y!.nextVersion(), await x!.nextVersion()];
    expect(versions.every((v, i) => i === 0 || v === versions[i - 1]! + 1)).toBe(true);
    const together = await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 ? x! : y!).nextVersion()));
    expect(new Set(together).size).toBe(20);
    expect(Math.min(...together)).toBe(versions[2]! + 1);
  });

  it('stops delivering on unsubscribe, reports down, and is ready again once subscribed', async () => {
    const [sender, x] = await Promise.all(['s', 'x'].map((n) => harness.make(uniqueName(n))));
    const got: string[] = [];
    await x!.subscribe((p) => got.push(p));
    await x!.ping();
    expect(x!.ready()).toBe(true);
    await x!.unsubscribe();
    expect([x!.subscriberState, x!.ready()]).toEqual(['down', false]);
    expect(await sender!.publish('while away')).toBe(0);
    await x!.subscribe((p) => got.push(p));
    expect(x!.ready()).toBe(true);
    await waitFor(async () => (await sender!.publish('back')) === 1 && got.includes('back'), { message: 'back' });
    expect(got).not.toContain('while away');
  });

  it('counts live members, ages them out, and forgets those who leave', async () => {
    await harness.make(uniqueName('m'));
    const members = harness.membership();
    const now = Date.now();
    expect(await members.heartbeat('a', now - 5000, 3000)).toBe(1);
    // a's last heartbeat is 5 s old: outside a 3 s window it no longer counts.
    expect(await members.heartbeat('b', now, 3000)).toBe(1);
    expect(await members.countLive(now, 10_000)).toBe(2);
    await members.leave('b');
    expect(await members.countLive(now, 10_000)).toBe(1);
  });

  it('never counts a member registered into the future', async () => {
    await harness.make(uniqueName('m'));
    const members = harness.membership();
    const now = Date.now();
    await members.heartbeat('from-the-future', now + 3_600_000, 3000);
    expect(await members.heartbeat('a', now, 3000)).toBe(1);
    expect(await members.countLive(now + 60_000, 3000)).toBe(0);
  });
});

/**
 * A master killed under a steady stream of publishes (last: it leaves the topology with one master
 * fewer). Expected before the kill: every publish either fails or reports how many subscribers
 * got it, and those reports are exact (the subscriber receives precisely the payloads reported as
 * delivered to one); the subscriber goes down, then comes back up on another server.
 */
/** Whether the caller runs inside the socket read that brought the data, with no tick in between. */
function inSocketRead(): boolean {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 100;
  const stack = new Error().stack ?? '';
  Error.stackTraceLimit = limit;
  return stack.includes('onStreamRead') && !stack.includes('processTicksAndRejections');
}

describe.each(['standalone', 'sentinel', 'cluster'] as const)('Redis subscriber reads: %s', (kind) => {
  it('hands each message over in the socket read that brought it, also on the connection made after a drop', async () => {
    const harness = redisHarness(kind);
    try {
      const names = [uniqueName('s'), uniqueName('x')];
      const [sender, x] = await Promise.all(names.map((n) => harness.make(n)));
      const got: [string, boolean][] = [];
      await x!.subscribe((p) => got.push([p, inSocketRead()]));
      await sender!.publish('before');
      await waitFor(() => got.length === 1, { message: 'delivered before the drop' });
      await harness.dropSubscriber(x!, names[1]!);
      await waitFor(async () => (await sender!.publish('after')) === 1 && got.some(([p]) => p === 'after'), {
        message: 'delivery after return',
      });
      // ioredis alone buffers each chunk and hands it to its decoder on the next tick.
      expect(got.filter(([p]) => p === 'before' || p === 'after').map(([, inRead]) => inRead)).not.toContain(false);
      expect(got[0]).toEqual(['before', true]);
    } finally {
      await harness.close();
    }
  });
});

describe.each(['sentinel', 'cluster'] as const)('transport across a failover: %s', (kind) => {
  it('reports every publish exactly and resubscribes on the new master', async () => {
    const harness = redisHarness(kind);
    try {
      const [sender, x] = await Promise.all(['s', 'x'].map((n) => harness.make(uniqueName(n))));
      const states: string[] = [];
      x!.onSubscriberState((state, node) => states.push(`${state}${node ? `@${node}` : ''}`));
      const got = new Set<string>();
      await x!.subscribe((p) => got.add(p));
      const outcomes: { payload: string; delivered?: number; error?: string }[] = [];
      let sending = true;
      const loop = (async () => {
        for (let i = 0; sending; i += 1) {
          const payload = `m${i}`;
          try {
            outcomes.push({ payload, delivered: await sender!.publish(payload) });
          } catch (error) {
            outcomes.push({ payload, error: (error as Error).message });
          }
          await new Promise((r) => setTimeout(r, 5));
        }
      })();
      const channel = (x as unknown as { options: { channel: string } }).options.channel;
      const { promotedAfterMs } = await servers[kind]!.killMaster(channel);
      await waitFor(() => states.filter((s) => s.startsWith('up')).length === 2, {
        timeoutMs: 20_000,
        message: `resubscribed (states ${states})`,
      });
      await waitFor(() => outcomes.slice(-20).every((o) => o.delivered === 1), {
        timeoutMs: 20_000,
        message: 'publishes reach the subscriber again',
      });
      sending = false;
      await loop;
      const undelivered = () => outcomes.filter((o) => o.delivered === 1 && !got.has(o.payload)).map((o) => o.payload);
      await waitFor(() => undelivered().length === 0, { message: 'every reported delivery arrived' }).catch(
        () => undefined,
      );
      expect({ undelivered: undelivered(), states, outcomes: outcomes.map((o) => o.delivered ?? o.error) }).toEqual({
        undelivered: [],
        states,
        outcomes: outcomes.map((o) => o.delivered ?? o.error),
      });
      const ups = states.filter((s) => s.startsWith('up'));
      expect(states.map((s) => s.split('@')[0])).toEqual(['up', 'down', 'up']);
      expect(ups[0]).not.toEqual(ups[1]);
      const reportedDelivered = outcomes.filter((o) => o.delivered === 1).map((o) => o.payload);
      expect([...got].sort()).toEqual([...reportedDelivered].sort());
      const failed = outcomes.filter((o) => o.error !== undefined).length;
      const toNobody = outcomes.filter((o) => o.delivered === 0).length;
      expect(failed + toNobody).toBeGreaterThan(0); // the gap was real, and every loss in it was reported
      console.log(
        `${kind}: promoted after ${promotedAfterMs} ms; ${outcomes.length} publishes, ${failed} rejected, ${toNobody} to 0 receivers, ${reportedDelivered.length} delivered`,
      );
    } finally {
      await harness.close();
    }
  }, 60_000);
});
