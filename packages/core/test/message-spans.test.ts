import { context, propagation, SpanKind, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { InMemorySpanExporter, SimpleSpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace';
import { Redis } from 'ioredis';
import { waitFor } from '../../../service/local-stack/processes';
import { freshSigningKeys } from '../../../service/local-stack/signing-keys';
import { encodeEnvelope } from '../src/sync/envelope';
import { EnvelopeSigner, parseSigningKeys } from '../src/sync/signing';
import { sampleMessage } from './fixtures';
import { type Replica, startReplicas } from './redis-fixtures';

/**
 * The message spans of three synced caches on real Redis, with an OpenTelemetry SDK registered as
 * a service would: one PRODUCER span per publish, under the writer's active span, and one CONSUMER
 * span per receiving replica, linked to it through the W3C trace context in the message; none for
 * a message outside a sampled trace, which is applied all the same.
 */
describe('message spans', () => {
  const exporter = new InMemorySpanExporter();
  const provider = new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter })] });
  const keys = freshSigningKeys('spans');
  let close: () => Promise<void>;
  let replicas: Replica[] = [];
  let channel: string;

  beforeAll(async () => {
    trace.setGlobalTracerProvider(provider);
    context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
    propagation.setGlobalPropagator(new W3CTraceContextPropagator());
    ({ replicas, channel, close } = await startReplicas(3, { signing: { keys }, sync: { mode: 'pubsub' } }));
    await waitFor(async () => (await replicas[0]!.metric('cache_invalidation_members')) === 3, {
      message: '3 members',
    });
  });
  afterAll(async () => {
    await close();
    await provider.shutdown();
    trace.disable();
    context.disable();
    propagation.disable();
  });

  it('links one CONSUMER span per receiving replica to the PRODUCER span, under the writer span', async () => {
    const [a, b, c] = replicas as [Replica, Replica, Replica];
    exporter.reset();
    const writeSpan = trace.getTracer('test').startSpan('write', { kind: SpanKind.SERVER });
    await context.with(trace.setSpan(context.active(), writeSpan), () =>
      a.cache.announce({ keys: ['id:1'], id: '1', version: 2, op: 'update' }),
    );
    writeSpan.end();

    await waitFor(() => exporter.getFinishedSpans().filter((s) => s.kind === SpanKind.CONSUMER).length === 2, {
      message: 'two consumer spans',
    });
    const spans = exporter.getFinishedSpans();
    const producers = spans.filter((s) => s.kind === SpanKind.PRODUCER);
    expect(producers).toHaveLength(1);
    const producer = producers[0]!;
    expect(producer.name).toBe(`publish ${channel}`);
    expect(producer.attributes).toMatchObject({
      'messaging.system': 'redis',
      'messaging.operation.type': 'send',
      'messaging.operation.name': 'publish',
      'messaging.destination.name': channel,
      'messaging.redis.receivers': 3,
    });
    expect(producer.parentSpanContext?.spanId).toBe(writeSpan.spanContext().spanId);
    expect(producer.spanContext().traceId).toBe(writeSpan.spanContext().traceId);

    const consumers = spans.filter((s) => s.kind === SpanKind.CONSUMER);
    expect(consumers.map((s) => s.attributes['messaging.consumer.group.name']).sort()).toEqual(
      [b.cache.replicaId, c.cache.replicaId].sort(),
    );
    for (const consumer of consumers) {
      expect(consumer.name).toBe(`process ${channel}`);
      expect(consumer.attributes['messaging.operation.type']).toBe('process');
      expect(consumer.links.map((link) => link.context.spanId)).toEqual([producer.spanContext().spanId]);
      expect(consumer.spanContext().traceId).toBe(producer.spanContext().traceId);
      expect(consumer.attributes['messaging.message.id']).toBe(producer.attributes['messaging.message.id']);
    }
  });

  it('gives a message whose writer did not sample its trace, or that carries none, no CONSUMER span, and applies it all the same', async () => {
    const b = replicas[1]!;
    const raw = new Redis(process.env.REDIS_URL ?? '');
    const signer = new EnvelopeSigner(parseSigningKeys(keys));
    const id = '6566f0c1a1b2c3d4e5f60003';
    try {
      exporter.reset();
      // This provider's sampler (parent-based, always on at the root) would record a root span for
      // the message without trace context: the receiver makes none, and none for the unsampled one.
      const unsampled = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00';
      for (const [seq, traceparent] of [
        [1, unsampled],
        [2, undefined],
      ] as const) {
        await b.cache.getOrLoad(`id:${id}`, async () => ({ id, version: 1 }));
        expect(b.cache.peek(`id:${id}`)).toBeDefined();
        const received = await b.metric('cache_invalidations_received_total');
        const message = sampleMessage({ id, keys: [`id:${id}`], version: 50 + seq, origin: 'untraced-writer', seq });
        message.publishedAt = Date.now();
        message.committedAt = Date.now();
        if (traceparent) message.traceparent = traceparent;
        else delete message.traceparent;
        await raw.publish(channel, signer.sign(encodeEnvelope(message)));
        await waitFor(async () => (await b.metric('cache_invalidations_received_total')) === received + 1, {
          message: `message ${seq} applied`,
        });
        expect(b.cache.peek(`id:${id}`)).toBeUndefined();
      }
      expect(exporter.getFinishedSpans().filter((s) => s.kind === SpanKind.CONSUMER)).toEqual([]);
    } finally {
      raw.disconnect();
    }
  });
});
