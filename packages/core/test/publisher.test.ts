import { waitFor } from '../../../service/local-stack/processes';
import { LocalCache } from '../src/cache/local-cache';
import { type BulkMessage, decodeEnvelope, type InvalidationMessage } from '../src/sync/envelope';
import { InvalidationPublisher } from '../src/sync/invalidation-publisher';
import { InvalidationSubscriber } from '../src/sync/invalidation-subscriber';
import { MemoryBus, type MemoryTransport } from '../src/sync/memory-transport';
import { SCOPE } from './fixtures';

const ID = '6566f0c1a1b2c3d4e5f60718';

function node(bus: MemoryBus, origin: string, coalesce = false) {
  const transport = bus.transport();
  const cache = new LocalCache<{ id: string; version: number }>({ ttlSeconds: 300, maxKeys: 100 });
  const seen = { missed: 0, received: 0, missing: 0, published: [] as (InvalidationMessage | BulkMessage)[] };
  const subscriber = new InvalidationSubscriber({
    cache,
    scope: SCOPE,
    channel: 'c',
    selfOrigin: origin,
    events: {
      onMissed: (count) => {
        seen.missed += count;
      },
      onInvalidation: () => {
        seen.received += 1;
      },
    },
  });
  const publisher = new InvalidationPublisher({
    transport,
    membership: bus.membership(),
    channel: 'c',
    cache: 'book',
    origin,
    heartbeatIntervalMs: 1000,
    memberTimeoutMs: 15_000,
    coalesce,
    events: {
      onReceiversMissing: (missing) => {
        seen.missing += missing;
      },
      onPublished: (message) => seen.published.push(message),
    },
  });
  return { transport: transport as MemoryTransport, cache, seen, subscriber, publisher };
}

describe('InvalidationPublisher over the in-memory bus', () => {
  it('numbers invalidations and heartbeats in one sequence and reports missing receivers', async () => {
    const bus = new MemoryBus();
    const a = node(bus, 'a');
    const b = node(bus, 'b');
    await a.transport.subscribe(a.subscriber.handle);
    await b.transport.subscribe(b.subscriber.handle);
    await b.publisher.heartbeat();
    await a.publisher.heartbeat();

    b.cache.set(`id:${ID}`, { id: ID, version: 1 });
    const change = { keys: [`id:${ID}`], id: ID, version: 2, op: 'update' as const, committedAt: Date.now() };
    await a.publisher.publish(change);
    await waitFor(() => b.seen.received === 1);
    expect(b.cache.peek(`id:${ID}`)).toBeUndefined();
    expect(a.seen.published.map((m) => m.seq)).toEqual([2]);
    expect(a.seen.missing).toBe(0);

    b.transport.setConnected(false);
    await a.publisher.publish({ ...change, version: 3 });
    await a.publisher.publish({ ...change, version: 4 });
    expect(a.seen.missing).toBe(2);

    b.transport.setConnected(true);
    await a.publisher.heartbeat();
    await waitFor(() => b.seen.missed === 2, { message: 'gap of two at b' });
    for (const n of [a, b]) n.cache.close();
  });

  it('publishes a valid envelope v1 carrying origin, epoch and seq', async () => {
    const bus = new MemoryBus();
    const a = node(bus, 'a');
    let payload = '';
    a.transport.publish = async (raw: string) => {
      payload = raw;
      return 1;
    };
    await a.publisher.publish({ keys: [`id:${ID}`], id: ID, version: 2, op: 'update', committedAt: Date.now() });
    const decoded = decodeEnvelope(payload, SCOPE);
    expect(decoded.ok && decoded.message).toMatchObject({ v: 1, origin: 'a', epoch: a.publisher.epoch, seq: 1 });
    a.cache.close();
  });

  it('sends the first write of a callback at once and coalesces the writes that follow it into numbered messages, before the event loop turns', async () => {
    const bus = new MemoryBus();
    const a = node(bus, 'a', true);
    const b = node(bus, 'b');
    await b.transport.subscribe(b.subscriber.handle);
    const payloads: string[] = [];
    const publish = a.transport.publish.bind(a.transport);
    a.transport.publish = async (raw: string) => {
      payloads.push(raw);
      return publish(raw);
    };
    const ids = Array.from({ length: 300 }, (_, i) => i.toString(16).padStart(24, '0'));
    for (const id of ids) b.cache.set(`id:${id}`, { id, version: 1 });
    // Queued before the writes: if they waited for the event loop's next phase, this would run first.
    const sentBeforeTheLoopTurns = new Promise<number>((resolve) => setImmediate(() => resolve(payloads.length)));
    const writes = ids.map((id) =>
      a.publisher.publish({ keys: [`id:${id}`], id, version: 2, op: 'update', committedAt: Date.now() }),
    );
    // The first write did not wait for the others: it is on the transport already.
    expect(payloads).toHaveLength(1);
    expect(await sentBeforeTheLoopTurns).toBe(3);
    await Promise.all(writes);
    const messages = payloads.map((raw) => JSON.parse(raw) as { type?: string; seq: number; items?: unknown[] });
    // 300 one-key writes in one callback: the first alone, then 256 keys, then the other 43.
    expect(messages.map((m) => [m.type, m.seq, m.items?.length])).toEqual([
      [undefined, 1, undefined],
      ['batch', 2, 256],
      ['batch', 3, 43],
    ]);
    await waitFor(() => b.seen.received === 300, { message: 'b applies all 300' });
    expect(ids.filter((id) => b.cache.peek(`id:${id}`) !== undefined)).toEqual([]);
    expect(b.seen.missed).toBe(0);
    expect(a.seen.published).toHaveLength(300);

    await a.publisher.publish({
      keys: [`id:${ids[0]}`],
      id: ids[0]!,
      version: 3,
      op: 'update',
      committedAt: Date.now(),
    });
    const lone = JSON.parse(payloads.at(-1)!) as { type?: string; seq: number; id: string };
    expect([lone.type, lone.seq, lone.id]).toEqual([undefined, 4, ids[0]]);
    for (const n of [a, b]) n.cache.close();
  });

  it('rejects every writer of a coalesced message that Redis did not take', async () => {
    const bus = new MemoryBus();
    const a = node(bus, 'a', true);
    a.transport.publish = async () => {
      throw new Error('Connection is closed.');
    };
    const results = await Promise.allSettled(
      [1, 2, 3].map((v) =>
        a.publisher.publish({ keys: [`id:${ID}`], id: ID, version: v + 1, op: 'update', committedAt: Date.now() }),
      ),
    );
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected', 'rejected']);
    a.cache.close();
  });
});

describe('InvalidationPublisher when the bus rejects (a failover)', () => {
  /** A transport that rejects every publish until `rejecting` is set to false. */
  function flakyPublisher(retryForMs: number) {
    const bus = new MemoryBus();
    const transport = bus.transport();
    const sent: string[] = [];
    let rejecting = true;
    let errors = 0;
    const flaky = Object.assign(Object.create(transport), {
      publish: async (payload: string) => {
        if (rejecting) throw new Error('Connection is closed.');
        sent.push(payload);
        return 0;
      },
    }) as MemoryTransport;
    const publisher = new InvalidationPublisher({
      transport: flaky,
      membership: bus.membership(),
      channel: 'c',
      cache: 'book',
      origin: 'a',
      heartbeatIntervalMs: 1000,
      memberTimeoutMs: 15_000,
      retryForMs,
      events: {
        onError: () => {
          errors += 1;
        },
      },
    });
    return {
      publisher,
      sent,
      errors: () => errors,
      heal: () => {
        rejecting = false;
      },
    };
  }
  const change = { keys: [`id:${ID}`], id: ID, version: 2, op: 'update' as const, committedAt: Date.now() };

  it('retries the same message (same sequence number) until the bus takes it, counting each rejection', async () => {
    const p = flakyPublisher(5000);
    const published = p.publisher.publish(change);
    await waitFor(() => p.errors() >= 3, { message: 'three rejections' });
    p.heal();
    await published;
    expect(p.sent).toHaveLength(1);
    expect(decodeEnvelope(p.sent[0]!, SCOPE)).toMatchObject({ ok: true, message: { seq: 1, id: ID, version: 2 } });
  });

  it('stops waiting once the bus has failed longer than retryForMs: later writes try once', async () => {
    const p = flakyPublisher(200);
    const started = Date.now();
    await expect(p.publisher.publish(change)).rejects.toThrow('Connection is closed.');
    expect(Date.now() - started).toBeGreaterThanOrEqual(100);
    // The first write gives up as soon as its next retry would end past retryForMs, which can be
    // before the bus has failed for retryForMs: the precondition is established, not assumed.
    while (Date.now() - started <= 200) await new Promise((resolve) => setTimeout(resolve, 10));
    const before = p.errors();
    await expect(p.publisher.publish(change)).rejects.toThrow('Connection is closed.');
    expect(p.errors() - before).toBe(1);
  });

  it('tries once with retryForMs 0 (pubsub mode)', async () => {
    const p = flakyPublisher(0);
    await expect(p.publisher.publish(change)).rejects.toThrow('Connection is closed.');
    expect(p.errors()).toBe(1);
  });
});
