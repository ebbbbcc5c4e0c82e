import { cpSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { cachedBinary, freePort, ROOT, ServerProcess } from './processes';

export interface PromSeries {
  metric: Record<string, string>;
  values: [number, string][];
}

export interface Prometheus extends ServerProcess {
  url: string;
  api<T>(path: string, params?: Record<string, string>): Promise<T>;
  queryRange(expr: string, seconds: number): Promise<PromSeries[]>;
  query(expr: string): Promise<{ metric: Record<string, string>; value: [number, string] }[]>;
}

/**
 * prometheus/prometheus.yml with the `book` job pointed at local replicas (same labels), the
 * `probe` job at a local probe, and the jobs for containers that do not run here (Redis exporter,
 * Jaeger) removed; rules are the project's own files.
 */
export function localConfig(
  targets: { replica: string; address: string }[],
  probeAddress: string,
  intervalSeconds: number,
): string {
  const config = parse(readFileSync(join(ROOT, 'prometheus/prometheus.yml'), 'utf8')) as {
    global: Record<string, string>;
    scrape_configs: { job_name: string; static_configs: unknown[] }[];
  };
  config.global.scrape_interval = `${intervalSeconds}s`;
  config.global.evaluation_interval = `${intervalSeconds}s`;
  const local: Record<string, unknown[]> = {
    book: targets.map((t) => ({ targets: [t.address], labels: { replica: t.replica } })),
    probe: [{ targets: [probeAddress] }],
  };
  config.scrape_configs = config.scrape_configs
    .filter((job) => local[job.job_name])
    .map((job) => ({ ...job, static_configs: local[job.job_name]! }));
  return stringify(config);
}

export async function startPrometheus(configYaml: string): Promise<Prometheus> {
  const dir = mkdtempSync(join(tmpdir(), 'lcs-prometheus-'));
  mkdirSync(join(dir, 'data'));
  cpSync(join(ROOT, 'prometheus/rules'), join(dir, 'rules'), { recursive: true });
  writeFileSync(join(dir, 'prometheus.yml'), configYaml);
  const port = await freePort();
  const server = new ServerProcess('prometheus', port, dir, cachedBinary('prometheus'), [
    `--config.file=${join(dir, 'prometheus.yml')}`,
    `--storage.tsdb.path=${join(dir, 'data')}`,
    `--web.listen-address=127.0.0.1:${port}`,
    '--enable-feature=exemplar-storage',
    '--log.level=warn',
  ]);
  await server.start();
  const url = `http://127.0.0.1:${port}`;
  const api = async <T>(path: string, params: Record<string, string> = {}): Promise<T> => {
    const response = await fetch(`${url}${path}?${new URLSearchParams(params)}`);
    const body = (await response.json()) as { status: string; data: T; error?: string };
    if (body.status !== 'success') throw new Error(`${path} ${JSON.stringify(params)}: ${body.error}`);
    return body.data;
  };
  return Object.assign(server, {
    url,
    api,
    async queryRange(expr: string, seconds: number) {
      const end = Date.now() / 1000;
      const data = await api<{ result: PromSeries[] }>('/api/v1/query_range', {
        query: expr,
        start: String(end - seconds),
        end: String(end),
        step: '1',
      });
      return data.result;
    },
    async query(expr: string) {
      return (
        await api<{ result: { metric: Record<string, string>; value: [number, string] }[] }>('/api/v1/query', {
          query: expr,
        })
      ).result;
    },
  });
}
