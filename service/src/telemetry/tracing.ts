import { type Attributes, type Context, type Link, SpanKind, TraceFlags, trace } from '@opentelemetry/api';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { IORedisInstrumentation } from '@opentelemetry/instrumentation-ioredis';
import { MongooseInstrumentation } from '@opentelemetry/instrumentation-mongoose';
import {
  envDetector,
  hostDetector,
  osDetector,
  processDetector,
  resourceFromAttributes,
} from '@opentelemetry/resources';
import { NodeSDK } from '@opentelemetry/sdk-node';
import {
  AlwaysOffSampler,
  AlwaysOnSampler,
  NoopSpanProcessor,
  ParentBasedSampler,
  type Sampler,
  SamplingDecision,
  type SamplingResult,
  TraceIdRatioBasedSampler,
} from '@opentelemetry/sdk-trace';
import { readRequestTraced, readSampling, setTracedRequests, tracingDisabled } from './sampling';

export const SERVICE_NAME = 'book-service';

/**
 * Writes and their invalidations are the point of tracing here: a request with a write method and
 * a PRODUCER span are always sampled, and a CONSUMER span follows its producer's decision (the
 * traceparent it carries), whatever sampler reads use. A read request that gets a span at all was
 * chosen before it had one (tracedRequests: a read left out costs no span and no context), so it
 * is sampled too. Everything else follows `reads`.
 */
export class WritesAlwaysSampler implements Sampler {
  constructor(private readonly reads: Sampler) {}

  shouldSample(
    context: Context,
    traceId: string,
    spanName: string,
    spanKind: SpanKind,
    attributes: Attributes,
    links: Link[],
  ): SamplingResult {
    const method = attributes['http.request.method'] ?? attributes['http.method'];
    const request = spanKind === SpanKind.SERVER && typeof method === 'string';
    if (request || spanKind === SpanKind.PRODUCER) return { decision: SamplingDecision.RECORD_AND_SAMPLED };
    if (spanKind === SpanKind.CONSUMER) {
      const parent = trace.getSpanContext(context);
      const sampled = parent !== undefined && (parent.traceFlags & TraceFlags.SAMPLED) === TraceFlags.SAMPLED;
      return { decision: sampled ? SamplingDecision.RECORD_AND_SAMPLED : SamplingDecision.NOT_RECORD };
    }
    return this.reads.shouldSample(context, traceId, spanName, spanKind, attributes, links);
  }

  toString(): string {
    return `WritesAlwaysSampler{reads=${this.reads.toString()}}`;
  }
}

/** The standard OTEL_TRACES_SAMPLER and OTEL_TRACES_SAMPLER_ARG, for spans that are neither requests nor messages. */
export function readSampler(env: NodeJS.ProcessEnv): Sampler {
  const { name, ratio, base, known, followParent } = readSampling(env);
  if (!known) {
    // Loaded before the logger (register.ts): stderr is where a replica's start-up problems go.
    process.stderr.write(
      `OTEL_TRACES_SAMPLER="${name.slice(0, 64)}" is not always_on, always_off, traceidratio or parentbased_*: reads use parentbased_traceidratio ${ratio}\n`,
    );
  }
  const root =
    base === 'always_on'
      ? new AlwaysOnSampler()
      : base === 'always_off'
        ? new AlwaysOffSampler()
        : new TraceIdRatioBasedSampler(ratio);
  return followParent ? new ParentBasedSampler({ root }) : root;
}

let activeSdk: NodeSDK | undefined;

/** Flushes and stops tracing if it was started in this process. */
export async function stopTracing(): Promise<void> {
  await activeSdk?.shutdown();
  activeSdk = undefined;
  setTracedRequests(undefined);
}

/**
 * Starts the OpenTelemetry SDK. Must run before ioredis and mongoose are loaded, so it is preloaded
 * with `node --require` (see register.ts). Writes, their PRODUCER and CONSUMER spans are always
 * sampled, so their trace ids reach the envelope, the logs and the lag exemplars; reads are sampled
 * (WritesAlwaysSampler, and tracedRequests for the HTTP SERVER span that http/request-spans.ts
 * makes); spans are exported only when OTEL_EXPORTER_OTLP_ENDPOINT is set. OTEL_SDK_DISABLED=true
 * turns tracing off altogether: nothing is constructed, nothing patched.
 */
export function startTracing(env: NodeJS.ProcessEnv = process.env): NodeSDK | undefined {
  if (tracingDisabled(env)) return undefined;
  // Metrics go through Prometheus and logs through stdout; OTLP carries traces only.
  env.OTEL_METRICS_EXPORTER ??= 'none';
  env.OTEL_LOGS_EXPORTER ??= 'none';
  const endpoint = env.OTEL_EXPORTER_OTLP_ENDPOINT;
  // With an endpoint, NodeSDK builds the batch processor from OTEL_BSP_* settings.
  const exportOrRecordOnly = endpoint
    ? { traceExporter: new OTLPTraceExporter() }
    : { spanProcessors: [new NoopSpanProcessor()] };
  const sdk = new NodeSDK({
    resource: resourceFromAttributes({
      'service.name': env.OTEL_SERVICE_NAME ?? SERVICE_NAME,
      'service.instance.id': env.REPLICA_ID ?? 'unknown',
    }),
    // Detected attributes are merged over the ones above, and SDK 3's default detectors include a
    // random service.instance.id: the replica id is the instance id here, so that one is left out.
    resourceDetectors: [envDetector, hostDetector, osDetector, processDetector],
    ...exportOrRecordOnly,
    sampler: new WritesAlwaysSampler(readSampler(env)),
    // No HTTP or Koa instrumentation: the SERVER span is http/request-spans.ts's. Database and Redis
    // calls get a span only inside a traced request or message.
    instrumentations: [
      new MongooseInstrumentation({ requireParentSpan: true }),
      new IORedisInstrumentation({ requireParentSpan: true }),
    ],
  });
  sdk.start();
  activeSdk = sdk;
  setTracedRequests(readRequestTraced(env));
  return sdk;
}
