import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { ROOT } from '../local-stack/processes';
import { type LiveExtras, type RunReport, renderHtml } from './report';

/** The dashboard's panels the live page links to, in Prometheus' own graph view. */
const MAIN_PANELS = [
  'Missed messages',
  'Stale reads (probe)',
  'Stale reads (service)',
  'Stale window p99',
  'Subscriber up',
  'Lag p50 and p99',
  'Hit ratio',
];

/** What Grafana substitutes before a query reaches Prometheus: every replica, and a rate window. */
export function interpolate(expr: string, rateInterval: string): string {
  return expr.replaceAll('$__rate_interval', rateInterval).replaceAll('$replica', '.*');
}

/** Links to the Prometheus graphs of the committed dashboard's main queries. */
export function prometheusLinks(prometheusUrl: string, rateInterval = '15s'): LiveExtras['links'] {
  const dashboard = JSON.parse(readFileSync(join(ROOT, 'dashboards/local-cache-sync.json'), 'utf8')) as {
    panels: { title: string; targets?: { expr: string }[] }[];
  };
  const links: LiveExtras['links'] = [];
  for (const title of MAIN_PANELS) {
    const targets = dashboard.panels.filter((p) => p.title === title).flatMap((p) => p.targets ?? []);
    if (targets.length === 0) throw new Error(`the dashboard has no panel "${title}"`);
    const params = new URLSearchParams();
    for (const [i, target] of targets.entries()) {
      params.set(`g${i}.expr`, interpolate(target.expr, rateInterval));
      params.set(`g${i}.tab`, '0');
      params.set(`g${i}.range_input`, '15m');
    }
    links.push({ title, url: `${prometheusUrl}/graph?${params}` });
  }
  return links;
}

/**
 * The page `make demo` serves on loopback while it runs: the report's charts and tables drawn
 * from the samples so far, the faults shaded as they happen, reloading itself. GET / only.
 */
export async function startLivePage(
  snapshot: () => RunReport,
  extras: LiveExtras,
  port = 0,
): Promise<{ url: string; server: Server; close(): Promise<void> }> {
  const server = createServer((req, res) => {
    req.resume();
    const reply = (status: number, type: string, body: string) => {
      res.writeHead(status, {
        'content-type': `${type}; charset=utf-8`,
        'cache-control': 'no-store',
        'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'",
        'x-content-type-options': 'nosniff',
      });
      res.end(body);
    };
    if (req.method !== 'GET' && req.method !== 'HEAD') return reply(405, 'text/plain', 'only GET\n');
    if (req.url !== '/' && req.url !== '/index.html') return reply(404, 'text/plain', 'the live page is at /\n');
    try {
      reply(200, 'text/html', renderHtml(snapshot(), extras));
    } catch (error) {
      reply(500, 'text/plain', `rendering failed: ${(error as Error).message}\n`);
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', resolve);
  });
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`,
    server,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
