import { type Attributes, type Context, type Link, SpanKind, TraceFlags, trace } from '@opentelemetry/api';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { HttpInstrumentation } from '@opentelemetry/instrumentation-http';
import { IORedisInstrumentation } from '@opentelemetry/instrumentation-ioredis';
import { KoaInstrumentation, KoaLayerType } from '@opentelemetry/instrumentation-koa';
import { MongooseInstrumentation } from '@opentelemetry/instrumentation-mongoose';
import { resourceFromAttributes } from '@opentelemetry/resources';
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

export const SERVICE_NAME = 'book-service';

/** Reads are sampled at this ratio unless OTEL_TRACES_SAMPLER says otherwise; writes always are. */
export const DEFAULT_READ_SAMPLE_RATIO = 0.05;

const READ_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * Writes and their invalidations are the point of tracing here: a request with a write method and
 * a PRODUCER span are always sampled, and a CONSUMER span follows its producer's decision (the
 * traceparent it carries), whatever sampler reads use. A read request that gets a span at all was
 * chosen before it had one (readRequestTraced: a read left out costs no span and no context), so
 * it is sampled too. Everything else follows `reads`.
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

/** The standard OTEL_TRACES_SAMPLER and OTEL_TRACES_SAMPLER_ARG, read once: which reads are traced. */
function readSampling(env: NodeJS.ProcessEnv) {
  const name = env.OTEL_TRACES_SAMPLER ?? 'parentbased_traceidratio';
  const arg = env.OTEL_TRACES_SAMPLER_ARG === undefined ? Number.NaN : Number(env.OTEL_TRACES_SAMPLER_ARG);
  const ratio = arg >= 0 && arg <= 1 ? arg : DEFAULT_READ_SAMPLE_RATIO;
  const base = name.replace(/^parentbased_/, '');
  const known = ['always_on', 'always_off', 'traceidratio'].includes(base);
  const chance = base === 'always_on' ? 1 : base === 'always_off' ? 0 : ratio;
  return { name, ratio, base, known, chance, followParent: name.startsWith('parentbased_') || !known };
}

const TRACEPARENT = /^00-[0-9a-f]{32}-[0-9a-f]{16}-([0-9a-f]{2})$/;

/**
 * Whether a read request is traced at all, decided before the HTTP instrumentation makes a span:
 * with a parent-based sampler, as its traceparent says; otherwise (and without one) by the
 * sampler's chance. Write requests are always traced.
 */
export function readRequestTraced(
  env: NodeJS.ProcessEnv,
  random: () => number = Math.random,
): (method: string | undefined, traceparent: string | string[] | undefined) => boolean {
  const { chance, followParent } = readSampling(env);
  return (method, traceparent) => {
    if (!READ_METHODS.has((method ?? 'GET').toUpperCase())) return true;
    const parent = typeof traceparent === 'string' ? TRACEPARENT.exec(traceparent) : null;
    if (parent && followParent) return (Number.parseInt(parent[1]!, 16) & 1) === 1;
    return random() < chance;
  };
}

/** The standard OTEL_TRACES_SAMPLER and OTEL_TRACES_SAMPLER_ARG, for spans that are neither requests nor messages. */
export function readSampler(env: NodeJS.ProcessEnv): Sampler {
  const { name, ratio } = readSampling(env);
  const root: Record<string, () => Sampler> = {
    always_on: () => new AlwaysOnSampler(),
    always_off: () => new AlwaysOffSampler(),
    traceidratio: () => new TraceIdRatioBasedSampler(ratio),
  };
  const base = name.replace(/^parentbased_/, '');
  if (!root[base]) {
    // Loaded before the logger (register.ts): stderr is where a replica's start-up problems go.
    process.stderr.write(
      `OTEL_TRACES_SAMPLER="${name.slice(0, 64)}" is not always_on, always_off, traceidratio or parentbased_*: reads use parentbased_traceidratio ${ratio}\n`,
    );
  }
  const make = root[base] ?? root.traceidratio!;
  return name.startsWith('parentbased_') || !root[base] ? new ParentBasedSampler({ root: make() }) : make();
}

let activeSdk: NodeSDK | undefined;

/** Flushes and stops tracing if it was started in this process. */
export async function stopTracing(): Promise<void> {
  await activeSdk?.shutdown();
  activeSdk = undefined;
}

/**
 * Starts the OpenTelemetry SDK. Must run before koa, ioredis and mongoose are loaded, so it is
 * preloaded with `node --require` (see register.ts). Writes, their PRODUCER and CONSUMER spans are
 * always sampled, so their trace ids reach the envelope, the logs and the lag exemplars; reads
 * are sampled (WritesAlwaysSampler); spans are exported only when OTEL_EXPORTER_OTLP_ENDPOINT is
 * set. OTEL_SDK_DISABLED=true turns tracing off altogether.
 */
export function startTracing(env: NodeJS.ProcessEnv = process.env): NodeSDK {
  // Metrics go through Prometheus and logs through stdout; OTLP carries traces only.
  env.OTEL_METRICS_EXPORTER ??= 'none';
  env.OTEL_LOGS_EXPORTER ??= 'none';
  const endpoint = env.OTEL_EXPORTER_OTLP_ENDPOINT;
  // With an endpoint, NodeSDK builds the batch processor from OTEL_BSP_* settings.
  const exportOrRecordOnly = endpoint
    ? { traceExporter: new OTLPTraceExporter() }
    : { spanProcessors: [new NoopSpanProcessor()] };
  const traced = readRequestTraced(env);
  const sdk = new NodeSDK({
    resource: resourceFromAttributes({
      'service.name': env.OTEL_SERVICE_NAME ?? SERVICE_NAME,
      'service.instance.id': env.REPLICA_ID ?? 'unknown',
    }),
    ...exportOrRecordOnly,
    sampler: new WritesAlwaysSampler(readSampler(env)),
    instrumentations: [
      new HttpInstrumentation({
        ignoreIncomingRequestHook: (req) =>
          req.url === '/metrics' || req.url === '/healthz' || !traced(req.method, req.headers.traceparent),
      }),
      // Router spans name the route; one span per middleware tells nothing and costs on every read.
      new KoaInstrumentation({ ignoreLayersType: [KoaLayerType.MIDDLEWARE] }),
      new MongooseInstrumentation(),
      new IORedisInstrumentation(),
    ],
  });
  sdk.start();
  activeSdk = sdk;
  return sdk;
}
