import { context, ROOT_CONTEXT, SpanKind, TraceFlags, trace } from '@opentelemetry/api';
import { AlwaysOffSampler, SamplingDecision } from '@opentelemetry/sdk-trace';
import { DEFAULT_READ_SAMPLE_RATIO, readRequestTraced } from '../../src/telemetry/sampling';
import { readSampler, WritesAlwaysSampler } from '../../src/telemetry/tracing';

const TRACE = '0af7651916cd43dd8448eb211c80319c';
const sampled = (s: WritesAlwaysSampler, kind: SpanKind, attributes = {}, parent = ROOT_CONTEXT) =>
  s.shouldSample(parent, TRACE, 'span', kind, attributes, []).decision === SamplingDecision.RECORD_AND_SAMPLED;
const withParent = (flags: TraceFlags) =>
  trace.setSpanContext(context.active(), {
    traceId: TRACE,
    spanId: 'b7ad6b7169203331',
    traceFlags: flags,
    isRemote: true,
  });

describe('WritesAlwaysSampler', () => {
  // Reads never sampled here, to show that writes and invalidations do not depend on it.
  const sampler = new WritesAlwaysSampler(new AlwaysOffSampler());

  it('samples every write request and every PRODUCER span, whatever reads do', () => {
    for (const method of ['POST', 'PUT', 'PATCH', 'DELETE']) {
      expect([method, sampled(sampler, SpanKind.SERVER, { 'http.method': method })]).toEqual([method, true]);
    }
    expect(sampled(sampler, SpanKind.SERVER, { 'http.request.method': 'PATCH' })).toBe(true);
    expect(sampled(sampler, SpanKind.PRODUCER)).toBe(true);
  });

  it('samples a read request that has a span (readRequestTraced chose it), and leaves other spans to the read sampler', () => {
    expect(sampled(sampler, SpanKind.SERVER, { 'http.method': 'GET' })).toBe(true);
    expect(sampled(sampler, SpanKind.CLIENT)).toBe(false);
    expect(sampled(sampler, SpanKind.INTERNAL)).toBe(false);
  });

  it("makes a CONSUMER span follow its producer's decision", () => {
    expect(sampled(sampler, SpanKind.CONSUMER, {}, withParent(TraceFlags.SAMPLED))).toBe(true);
    expect(sampled(sampler, SpanKind.CONSUMER, {}, withParent(TraceFlags.NONE))).toBe(false);
    expect(sampled(sampler, SpanKind.CONSUMER)).toBe(false);
  });
});

describe('readRequestTraced: which read requests get a span at all', () => {
  const sampledParent = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
  const unsampledParent = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00';
  const share = (traced: ReturnType<typeof readRequestTraced>, traceparent?: string) => {
    let n = 0;
    for (let i = 0; i < 10_000; i += 1) if (traced('GET', traceparent)) n += 1;
    return n / 10_000;
  };

  it('always traces writes', () => {
    const traced = readRequestTraced({ OTEL_TRACES_SAMPLER: 'always_off' });
    for (const method of ['POST', 'PATCH', 'PUT', 'DELETE']) expect(traced(method, undefined)).toBe(true);
  });

  it('traces about DEFAULT_READ_SAMPLE_RATIO of new reads by default, and follows a parent', () => {
    const traced = readRequestTraced({});
    expect(Math.abs(share(traced) - DEFAULT_READ_SAMPLE_RATIO)).toBeLessThan(0.02);
    expect(share(traced, sampledParent)).toBe(1);
    expect(share(traced, unsampledParent)).toBe(0);
    expect(Math.abs(share(traced, 'garbage') - DEFAULT_READ_SAMPLE_RATIO)).toBeLessThan(0.02);
  });

  it('follows OTEL_TRACES_SAMPLER: always_on, always_off, a ratio that ignores parents', () => {
    expect(share(readRequestTraced({ OTEL_TRACES_SAMPLER: 'always_on' }))).toBe(1);
    expect(share(readRequestTraced({ OTEL_TRACES_SAMPLER: 'always_off' }))).toBe(0);
    const ratio = readRequestTraced({ OTEL_TRACES_SAMPLER: 'traceidratio', OTEL_TRACES_SAMPLER_ARG: '0.5' });
    expect(Math.abs(share(ratio, unsampledParent) - 0.5)).toBeLessThan(0.03);
  });
});

describe('readSampler (the standard OTEL_TRACES_SAMPLER settings)', () => {
  it('defaults to parent-based, at DEFAULT_READ_SAMPLE_RATIO of new traces', () => {
    expect(readSampler({}).toString()).toBe(
      `ParentBased{root=TraceIdRatioBased{${DEFAULT_READ_SAMPLE_RATIO}}, remoteParentSampled=AlwaysOnSampler, remoteParentNotSampled=AlwaysOffSampler, localParentSampled=AlwaysOnSampler, localParentNotSampled=AlwaysOffSampler}`,
    );
  });

  it('follows OTEL_TRACES_SAMPLER and its argument, and ignores an argument out of range', () => {
    expect(readSampler({ OTEL_TRACES_SAMPLER: 'always_on' }).toString()).toBe('AlwaysOnSampler');
    expect(readSampler({ OTEL_TRACES_SAMPLER: 'traceidratio', OTEL_TRACES_SAMPLER_ARG: '0.5' }).toString()).toBe(
      'TraceIdRatioBased{0.5}',
    );
    expect(readSampler({ OTEL_TRACES_SAMPLER: 'traceidratio', OTEL_TRACES_SAMPLER_ARG: '7' }).toString()).toBe(
      `TraceIdRatioBased{${DEFAULT_READ_SAMPLE_RATIO}}`,
    );
    expect(readSampler({ OTEL_TRACES_SAMPLER: 'parentbased_always_off' }).toString()).toMatch(
      /^ParentBased\{root=AlwaysOffSampler/,
    );
  });
});
