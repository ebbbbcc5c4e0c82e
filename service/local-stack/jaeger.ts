import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cachedBinary, freePort, ROOT, ServerProcess } from './processes';

export function jaegerBinary(): string {
  return cachedBinary('jaeger');
}

export interface Jaeger extends ServerProcess {
  /** Where replicas send OTLP/HTTP (OTEL_EXPORTER_OTLP_ENDPOINT). */
  otlpUrl: string;
  /** The UI and its query API (/api/traces), as Grafana's Jaeger datasource reads it. */
  queryUrl: string;
  /** Jaeger's own metrics, as Prometheus scrapes them. */
  metricsUrl: string;
}

/**
 * Jaeger v2 (built by `make deps` from the release docker compose runs) with the compose file's own
 * configuration, deploy/jaeger/config.yaml, on free loopback ports.
 */
export async function startJaeger(): Promise<Jaeger> {
  const ports = {
    JAEGER_OTLP_HTTP_PORT: await freePort(),
    JAEGER_OTLP_GRPC_PORT: await freePort(),
    JAEGER_UI_PORT: await freePort(),
    JAEGER_QUERY_GRPC_PORT: await freePort(),
    JAEGER_METRICS_PORT: await freePort(),
    JAEGER_HEALTH_PORT: await freePort(),
  };
  const env = {
    JAEGER_HOST: '127.0.0.1',
    ...Object.fromEntries(Object.entries(ports).map(([name, port]) => [name, String(port)])),
  };
  const server = new ServerProcess(
    'jaeger',
    ports.JAEGER_UI_PORT,
    mkdtempSync(join(tmpdir(), 'lcs-jaeger-')),
    jaegerBinary(),
    ['--config', join(ROOT, 'deploy/jaeger/config.yaml')],
    env,
  );
  await server.start();
  return Object.assign(server, {
    otlpUrl: `http://127.0.0.1:${ports.JAEGER_OTLP_HTTP_PORT}`,
    queryUrl: `http://127.0.0.1:${ports.JAEGER_UI_PORT}`,
    metricsUrl: `http://127.0.0.1:${ports.JAEGER_METRICS_PORT}/metrics`,
  });
}
