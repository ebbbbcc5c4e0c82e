import { context, propagation, SpanKind, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { InMemorySpanExporter, SimpleSpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace';
import { waitFor } from '../../local-stack/processes';
import { http, type RunningReplica, startCluster } from '../harness/replicas';

/**
 * End to end through the service: the HTTP request's span is the PRODUCER span's parent, and the
 * lag exemplar on /metrics leads to the trace. How message spans behave on their own (links, no
 * span outside a sampled trace) is tested in the library (packages/core/test/message-spans.test.ts).
 */
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

  it('puts the PRODUCER span under the request span and every CONSUMER span in its trace; exemplars lead there', async () => {
    const [a, b, c] = replicas as [RunningReplica, RunningReplica, RunningReplica];
    const created = await http('POST', `${a.url}/books`, { name: 'Traced', author: 'n/a', year: 2001 });
    const id = created.json.id as string;
    exporter.reset();

    // Stands in for the HTTP server span that the http/koa instrumentation opens in a real process
    // (process.test.ts checks that one against an OTLP receiver).
    const requestSpan = trace.getTracer('test').startSpan('PATCH /books/:id', { kind: SpanKind.SERVER });
    await context.with(trace.setSpan(context.active(), requestSpan), () => a.books.update(id, { year: 2002 }));
    requestSpan.end();

    // The write sends two messages (its key invalidation, and the tag invalidation of its author
    // lists): two PRODUCER spans, and a CONSUMER span for each on each of the two other replicas.
    await waitFor(() => exporter.getFinishedSpans().filter((s) => s.kind === SpanKind.CONSUMER).length >= 4, {
      message: 'four consumer spans',
    });
    const spans = exporter.getFinishedSpans();
    const producers = spans.filter((s) => s.kind === SpanKind.PRODUCER);
    const kind = (s: (typeof spans)[number]) => (s.attributes['cache.invalidation.kind'] as string) ?? 'keys';
    expect(producers.map(kind).sort()).toEqual(['keys', 'tags']);
    const producer = producers.find((s) => kind(s) === 'keys')!;
    // Both PRODUCER spans are the request's children, and each replica's CONSUMER spans are in its trace.
    for (const each of producers) {
      expect(each.parentSpanContext?.spanId).toBe(requestSpan.spanContext().spanId);
      expect(each.spanContext().traceId).toBe(requestSpan.spanContext().traceId);
    }
    const consumers = spans.filter((s) => s.kind === SpanKind.CONSUMER);
    expect(
      consumers
        .map((s) => [s.attributes['messaging.consumer.group.name'], kind(s), s.spanContext().traceId].join(' '))
        .sort(),
    ).toEqual(
      [b.id, c.id]
        .flatMap((replica) => ['keys', 'tags'].map((k) => [replica, k, producer.spanContext().traceId].join(' ')))
        .sort(),
    );

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
});
