import { context, ROOT_CONTEXT, SpanKind, TraceFlags, trace } from '@opentelemetry/api';
import { AlwaysOffSampler, SamplingDecision } from '@opentelemetry/sdk-trace';
import { DEFAULT_READ_SAMPLE_RATIO, readSampler, WritesAlwaysSampler } from '../../src/telemetry/tracing';

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

  it('leaves reads to the read sampler', () => {
    expect(sampled(sampler, SpanKind.SERVER, { 'http.method': 'GET' })).toBe(false);
    expect(sampled(sampler, SpanKind.CLIENT)).toBe(false);
  });

  it("makes a CONSUMER span follow its producer's decision", () => {
    expect(sampled(sampler, SpanKind.CONSUMER, {}, withParent(TraceFlags.SAMPLED))).toBe(true);
    expect(sampled(sampler, SpanKind.CONSUMER, {}, withParent(TraceFlags.NONE))).toBe(false);
    expect(sampled(sampler, SpanKind.CONSUMER)).toBe(false);
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
