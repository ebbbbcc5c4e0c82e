import { Redis } from 'ioredis';
import { waitFor } from '../../local-stack/processes';
import { killSubscriber } from '../../local-stack/redis-clients';
import { MemoryBus } from '../../src/sync/memory-transport';
import { RedisTransport } from '../../src/sync/redis-transport';
import type { InvalidationTransport, MembershipRegistry, SubscriberState } from '../../src/sync/transport';
import { uniqueName } from '../harness/replicas';

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

function redisHarness(): Harness {
  const channel = uniqueName('contract');
  const made: RedisTransport[] = [];
  const admin = new Redis(process.env.REDIS_URL ?? '');
  return {
    async make(name) {
      const transport = new RedisTransport({
        url: process.env.REDIS_URL ?? '',
        channel,
        replicaId: name,
        log: { key: `${channel}:log`, maxLen: 1000 },
      });
      await transport.connect();
      made.push(transport);
      return transport;
    },
    membership: () => made[0]!.membership(),
    async dropSubscriber(_transport, name) {
      await killSubscriber(admin, name);
    },
    async close() {
      await Promise.all(made.map((t) => t.close()));
      admin.disconnect();
    },
  };
}

describe.each([
  ['in-memory', memoryHarness],
  ['Redis Pub/Sub', redisHarness],
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
