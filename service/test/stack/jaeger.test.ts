import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { type Jaeger, startJaeger } from '../../local-stack/jaeger';
import { ROOT, waitFor } from '../../local-stack/processes';
import { type ReplicaProcess, spawnReplica } from '../../local-stack/replica-process';
import { processEnv, uniqueName } from '../harness/replicas';

interface JaegerTrace {
  traceID: string;
  spans: { operationName: string; processID: string }[];
  processes: Record<string, { serviceName: string; tags: { key: string; value: unknown }[] }>;
}

/** Jaeger v2 as docker compose runs it: the same release, deploy/jaeger/config.yaml, real replicas exporting to it. */
describe('Jaeger v2 with the compose configuration', () => {
  let jaeger: Jaeger;
  const replicas: ReplicaProcess[] = [];
  const channel = uniqueName('book-channel');

  beforeAll(async () => {
    jaeger = await startJaeger();
    const env = processEnv('j', {
      INVALIDATION_CHANNEL: channel,
      OTEL_EXPORTER_OTLP_ENDPOINT: jaeger.otlpUrl,
      OTEL_BSP_SCHEDULE_DELAY: '100',
    });
    replicas.push(...(await Promise.all([spawnReplica(uniqueName('j1'), env), spawnReplica(uniqueName('j2'), env)])));
  });
  afterAll(async () => {
    await Promise.all(replicas.map((r) => r.stop()));
    await jaeger?.destroy();
  });

  it("keeps a write's trace, from its request to the other replica's CONSUMER span, and answers the UI's query API", async () => {
    const [writer, reader] = replicas as [ReplicaProcess, ReplicaProcess];
    const created = await fetch(`${writer.url}/books`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: uniqueName('Jaeger'), author: 'n/a', year: 2001 }),
    });
    const { id } = (await created.json()) as { id: string };
    const patched = await fetch(`${writer.url}/books/${id}`, {
      method: 'PATCH',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ year: 2002 }),
    });
    expect(patched.status).toBe(200);

    const instance = (t: JaegerTrace, processId: string) =>
      t.processes[processId]?.tags.find((tag) => tag.key === 'service.instance.id')?.value;
    const trace = await waitFor(
      async () => {
        const response = await fetch(`${jaeger.queryUrl}/api/traces?service=book-service&limit=50&lookback=1h`);
        const { data } = (await response.json()) as { data: JaegerTrace[] };
        return data.find(
          (t) =>
            t.spans.some((s) => s.operationName === 'PATCH /books/:id' && instance(t, s.processID) === writer.id) &&
            t.spans.some((s) => s.operationName === `process ${channel}` && instance(t, s.processID) === reader.id),
        );
      },
      { timeoutMs: 20_000, intervalMs: 250, message: 'the PATCH trace in Jaeger, with the reader’s CONSUMER span' },
    );
    const operations = new Set(trace.spans.map((s) => s.operationName));
    expect(operations).toContain(`publish ${channel}`);

    // What Prometheus scrapes as the `jaeger` job: the collector's own counters.
    const metrics = await (await fetch(jaeger.metricsUrl)).text();
    const accepted = metrics
      .split('\n')
      .filter((line) => line.startsWith('otelcol_receiver_accepted_spans'))
      .reduce((n, line) => n + Number(line.split(' ').pop()), 0);
    expect(accepted).toBeGreaterThan(0);
  });

  it('is what docker-compose.yml runs: the same release and file, OTLP from the replicas, scraped and queried', () => {
    const compose = parse(readFileSync(join(ROOT, 'docker-compose.yml'), 'utf8'), {
      merge: true,
      maxAliasCount: 1000,
    }) as {
      services: Record<string, { image?: string; command?: string[]; volumes?: string[] }>;
      'x-replica-env': Record<string, string>;
    };
    const service = compose.services.jaeger!;
    const deps = readFileSync(join(ROOT, 'scripts/deps.sh'), 'utf8');
    // Go module v1.76.0 is the same commit as Jaeger v2.13.0 (the v2 binary is cmd/jaeger).
    expect(service.image).toBe('jaegertracing/jaeger:2.13.0');
    expect(deps).toMatch(/^JAEGER_MODULE_VERSION=v1\.76\.0$/m);
    expect(service.volumes).toContain('./deploy/jaeger/config.yaml:/etc/jaeger/config.yaml:ro');
    expect(service.command).toEqual(['--config', '/etc/jaeger/config.yaml']);
    expect(compose['x-replica-env'].OTEL_EXPORTER_OTLP_ENDPOINT).toBe('http://jaeger:4318');
    const prometheus = parse(readFileSync(join(ROOT, 'prometheus/prometheus.yml'), 'utf8')) as {
      scrape_configs: { job_name: string; static_configs: { targets: string[] }[] }[];
    };
    const job = prometheus.scrape_configs.find((j) => j.job_name === 'jaeger');
    expect(job?.static_configs[0]?.targets).toEqual(['jaeger:8888']);
    expect(readFileSync(join(ROOT, 'grafana/provisioning/datasources/datasources.yaml'), 'utf8')).toContain(
      'url: http://jaeger:16686',
    );
  });
});
