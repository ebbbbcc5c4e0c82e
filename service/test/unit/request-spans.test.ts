import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import Router from '@koa/router';
import { context, propagation, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { InMemorySpanExporter, SimpleSpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace';
import Koa from 'koa';
import { requestSpans } from '../../src/http/request-spans';
import { readRequestTraced } from '../../src/telemetry/sampling';

describe('requestSpans: the SERVER span of a traced request', () => {
  const exporter = new InMemorySpanExporter();
  const provider = new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter })] });
  let server: Server;
  let base: string;
  const seenInside: (string | undefined)[] = [];

  beforeAll(async () => {
    trace.setGlobalTracerProvider(provider);
    context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
    propagation.setGlobalPropagator(new W3CTraceContextPropagator());
    const app = new Koa();
    const router = new Router();
    const handler = (ctx: Koa.Context) => {
      seenInside.push(trace.getActiveSpan()?.spanContext().spanId);
      ctx.status = ctx.query.fail ? 500 : 200;
      ctx.body = 'ok';
    };
    router.get('/books/:id', handler);
    router.patch('/books/:id', handler);
    router.get('/metrics', handler);
    // Reads never traced unless a sampled parent asks: writes must not depend on the read sampler.
    app.use(requestSpans(readRequestTraced({ OTEL_TRACES_SAMPLER: 'parentbased_always_off' })));
    app.use(router.routes());
    server = createServer(app.callback()).listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    server.close();
    await provider.shutdown();
    trace.disable();
    context.disable();
    propagation.disable();
  });
  beforeEach(() => {
    exporter.reset();
    seenInside.length = 0;
  });

  it('gives a write a SERVER span named by its route, active inside the handler', async () => {
    expect((await fetch(`${base}/books/abc`, { method: 'PATCH' })).status).toBe(200);
    const [span, ...others] = exporter.getFinishedSpans();
    expect(others).toEqual([]);
    expect(span!.name).toBe('PATCH /books/:id');
    expect(span!.kind).toBe(SpanKind.SERVER);
    expect(span!.attributes).toMatchObject({
      'http.request.method': 'PATCH',
      'http.route': '/books/:id',
      'url.path': '/books/abc',
      'http.response.status_code': 200,
    });
    expect(seenInside).toEqual([span!.spanContext().spanId]);
  });

  it('continues the trace a sampled traceparent names, and marks a 5xx as an error', async () => {
    const traceparent = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
    expect((await fetch(`${base}/books/abc?fail=1`, { headers: { traceparent } })).status).toBe(500);
    const [span] = exporter.getFinishedSpans();
    expect(span!.spanContext().traceId).toBe('0af7651916cd43dd8448eb211c80319c');
    expect(span!.parentSpanContext?.spanId).toBe('b7ad6b7169203331');
    expect(span!.status.code).toBe(SpanStatusCode.ERROR);
  });

  it('leaves a read the sampler left out without any span or context, and never traces /metrics', async () => {
    expect((await fetch(`${base}/books/abc`)).status).toBe(200);
    const unsampled = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00';
    expect((await fetch(`${base}/books/abc`, { headers: { traceparent: unsampled } })).status).toBe(200);
    const sampled = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
    expect((await fetch(`${base}/metrics`, { headers: { traceparent: sampled } })).status).toBe(200);
    expect(exporter.getFinishedSpans()).toEqual([]);
    expect(seenInside).toEqual([undefined, undefined, undefined]);
  });
});
