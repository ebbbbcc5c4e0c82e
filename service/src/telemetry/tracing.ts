import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { HttpInstrumentation } from '@opentelemetry/instrumentation-http';
import { IORedisInstrumentation } from '@opentelemetry/instrumentation-ioredis';
import { KoaInstrumentation } from '@opentelemetry/instrumentation-koa';
import { MongooseInstrumentation } from '@opentelemetry/instrumentation-mongoose';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { NodeSDK } from '@opentelemetry/sdk-node';
import { NoopSpanProcessor } from '@opentelemetry/sdk-trace';

export const SERVICE_NAME = 'book-service';

let activeSdk: NodeSDK | undefined;

/** Flushes and stops tracing if it was started in this process. */
export async function stopTracing(): Promise<void> {
  await activeSdk?.shutdown();
  activeSdk = undefined;
}

/**
 * Starts the OpenTelemetry SDK. Must run before koa, ioredis and mongoose are loaded, so it is
 * preloaded with `node --require` (see register.ts). Spans are always recorded, so that trace ids
 * reach the envelope, the logs and the lag exemplars; they are exported only when
 * OTEL_EXPORTER_OTLP_ENDPOINT is set.
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
  const sdk = new NodeSDK({
    resource: resourceFromAttributes({
      'service.name': env.OTEL_SERVICE_NAME ?? SERVICE_NAME,
      'service.instance.id': env.REPLICA_ID ?? 'unknown',
    }),
    ...exportOrRecordOnly,
    instrumentations: [
      new HttpInstrumentation({ ignoreIncomingRequestHook: (req) => req.url === '/metrics' || req.url === '/healthz' }),
      new KoaInstrumentation(),
      new MongooseInstrumentation(),
      new IORedisInstrumentation(),
    ],
  });
  sdk.start();
  activeSdk = sdk;
  return sdk;
}
