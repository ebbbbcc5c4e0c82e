import { EnvelopeSigner, encodeEnvelope } from '@local-cache-sync/core/wire';
import { context, propagation, SpanKind, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { InMemorySpanExporter, SimpleSpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace';
import { Redis } from 'ioredis';
import { waitFor } from '../../local-stack/processes';
import { sampleMessage } from '../harness/fixtures';
import { http, metricValue, type RunningReplica, settled, startCluster } from '../harness/replicas';

describe('tracing an invalidation from the write to every replica', () => {
  const exporter = new InMemorySpanExporter();
  const provider = new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter })] });
  let replicas: RunningReplica[] = [];

  beforeAll(async () => {
    trace.setGlobalTracerProvider(provider);
    context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
    propagation.setGlobalPropagator(new W3CTraceContextPropagator());
    replicas = await startCluster(3);
  });
  afterAll(async () => {
    await Promise.all(replicas.map((r) => r.stop()));
    await provider.shutdown();
    trace.disable();
    context.disable();
    propagation.disable();
  });

  it('links one CONSUMER span per receiving replica to the PRODUCER span, under the request span', async () => {
    const [a, b, c] = replicas as [RunningReplica, RunningReplica, RunningReplica];
    const created = await http('POST', `${a.url}/books`, { name: 'Traced', author: 'n/a', year: 2001 });
    const id = created.json.id as string;
    exporter.reset();

    // Stands in for the HTTP server span that the http/koa instrumentation opens in a real process
    // (process.test.ts checks that one against an OTLP receiver).
    const requestSpan = trace.getTracer('test').startSpan('PATCH /books/:id', { kind: SpanKind.SERVER });
    await context.with(trace.setSpan(context.active(), requestSpan), () => a.books.update(id, { year: 2002 }));
    requestSpan.end();

    await waitFor(() => exporter.getFinishedSpans().filter((s) => s.kind === SpanKind.CONSUMER).length === 2, {
      message: 'two consumer spans',
    });
    const spans = exporter.getFinishedSpans();
    const producers = spans.filter((s) => s.kind === SpanKind.PRODUCER);
    expect(producers).toHaveLength(1);
    const producer = producers[0]!;
    expect(producer.name).toMatch(/^publish book-channel-/);
    expect(producer.attributes).toMatchObject({
      'messaging.system': 'redis',
      'messaging.operation.type': 'send',
      'messaging.operation.name': 'publish',
      'messaging.redis.receivers': 3,
    });
    expect(producer.attributes['messaging.destination.name']).toBe(producer.name.replace('publish ', ''));
    expect(producer.parentSpanContext?.spanId).toBe(requestSpan.spanContext().spanId);
    expect(producer.spanContext().traceId).toBe(requestSpan.spanContext().traceId);

    const consumers = spans.filter((s) => s.kind === SpanKind.CONSUMER);
    expect(consumers.map((s) => s.attributes['messaging.consumer.group.name']).sort()).toEqual([b.id, c.id].sort());
    for (const consumer of consumers) {
      expect(consumer.name).toBe(producer.name.replace('publish', 'process'));
      expect(consumer.attributes['messaging.operation.type']).toBe('process');
      expect(consumer.links.map((link) => link.context.spanId)).toEqual([producer.spanContext().spanId]);
      expect(consumer.spanContext().traceId).toBe(producer.spanContext().traceId);
      expect(consumer.attributes['messaging.message.id']).toBe(producer.attributes['messaging.message.id']);
    }

    // The lag histogram's exemplar on each receiver leads from the metric to this trace.
    const exposition = await http('GET', `${b.url}/metrics`, undefined, {
      accept: 'application/openmetrics-text; version=1.0.0',
    });
    expect(exposition.headers.get('content-type')).toContain('application/openmetrics-text');
    const traceId = producer.spanContext().traceId;
    expect(exposition.text).toMatch(
      new RegExp(
        `^cache_invalidation_lag_seconds_bucket\\{[^}]*\\} \\d+ # \\{trace_id="${traceId}"\\} [0-9.e-]+ `,
        'm',
      ),
    );
  });
  it('gives a message whose writer did not sample its trace, or that carries none, no CONSUMER span, and applies it all the same', async () => {
    const [a, b] = replicas as [RunningReplica, RunningReplica];
    // The create's own invalidation must not stand in for the messages counted below.
    const created = await settled([b], () =>
      http('POST', `${a.url}/books`, { name: 'Untraced', author: 'n/a', year: 2001 }),
    );
    const id = created.json.id as string;
    const raw = new Redis(process.env.REDIS_URL ?? '');
    const signer = new EnvelopeSigner(a.config.SYNC_SIGNING_KEYS!);
    try {
      const received = await metricValue(b, 'cache_invalidations_received_total');
      exporter.reset();
      // This provider's sampler (parent-based, always on at the root) would record a root span for
      // the message without trace context: the receiver makes none, and none for the unsampled one.
      const unsampled = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00';
      for (const [seq, traceparent] of [
        [1, unsampled],
        [2, undefined],
      ] as const) {
        await http('GET', `${b.url}/books/${id}`);
        expect(b.cache.peek(`id:${id}`)).toBeDefined();
        const message = sampleMessage({ id, keys: [`id:${id}`], version: 50 + seq, origin: 'untraced-writer', seq });
        message.publishedAt = Date.now();
        message.committedAt = Date.now();
        if (traceparent) message.traceparent = traceparent;
        else delete message.traceparent;
        await raw.publish(a.config.INVALIDATION_CHANNEL, signer.sign(encodeEnvelope(message)));
        await waitFor(async () => (await metricValue(b, 'cache_invalidations_received_total')) === received + seq, {
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
