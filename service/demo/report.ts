import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ProbeSummary } from '../src/probe/summary';
import type { ReplicaSample, Sample } from './monitor';

export interface RunReport {
  scenario: string;
  mode: string;
  faultedReplica: string;
  durationSeconds: number;
  /** Seconds since start. */
  faultAt: number;
  healAt: number;
  samples: Sample[];
  probe: ProbeSummary;
  /** Every process and temporary folder the run started (all gone once it exits). */
  resources: { pids: number[]; dirs: string[] };
  /** Final totals per replica. */
  replicas: {
    replica: string;
    missed: number;
    staleService: number;
    staleProbe: number;
    maxStaleWindowSeconds: number;
    probeErrors: number;
  }[];
}

const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#8c564b'];
const escapeHtml = (s: string) =>
  s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);

/** A line chart as inline SVG: one line per replica, the fault window shaded. No scripts, no fonts to fetch. */
function chart(
  title: string,
  report: RunReport,
  value: (r: ReplicaSample) => number | undefined,
  unit: string,
): string {
  const [w, h, left, bottom, top] = [640, 220, 56, 28, 28];
  const t1 = Math.max(report.durationSeconds, ...report.samples.map((s) => s.t), 1);
  const values = report.samples
    .flatMap((s) => s.replicas.map(value))
    .filter((v): v is number => v !== undefined && Number.isFinite(v));
  const vMax = Math.max(...values, unit === '%' ? 1 : 0) || 1;
  const x = (t: number) => left + ((w - left - 10) * t) / t1;
  const y = (v: number) => h - bottom - ((h - bottom - top) * v) / vMax;
  const names = report.samples[0]?.replicas.map((r) => r.replica) ?? [];
  const lines = names.map((name, i) => {
    const points = report.samples
      .map((s) => [s.t, s.replicas.find((r) => r.replica === name)] as const)
      .map(([t, r]) => [t, r ? value(r) : undefined] as const)
      .filter(([, v]) => v !== undefined && Number.isFinite(v))
      .map(([t, v]) => `${x(t).toFixed(1)},${y(v!).toFixed(1)}`);
    return `<polyline class="series" fill="none" stroke="${COLORS[i % COLORS.length]}" stroke-width="2" points="${points.join(' ')}"/>`;
  });
  const label = (v: number) =>
    unit === '%'
      ? `${(v * 100).toFixed(0)}%`
      : unit === 's'
        ? `${v < 1 ? `${(v * 1000).toFixed(1)}ms` : `${v.toFixed(1)}s`}`
        : String(Math.round(v));
  const legend = names
    .map((name, i) => `<tspan fill="${COLORS[i % COLORS.length]}">■ ${escapeHtml(name)}</tspan>`)
    .join(' ');
  return `<figure><svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${w} ${h}" width="${w}" height="${h}" role="img" aria-label="${escapeHtml(title)}">
<rect x="${x(report.faultAt).toFixed(1)}" y="${top}" width="${(x(report.healAt) - x(report.faultAt)).toFixed(1)}" height="${h - bottom - top}" fill="#fbe3e3"/>
<text x="${(x(report.faultAt) + 4).toFixed(1)}" y="${top + 12}" font-size="11" fill="#b00">${escapeHtml(report.scenario)} on ${escapeHtml(report.faultedReplica)}</text>
<line x1="${left}" y1="${h - bottom}" x2="${w - 10}" y2="${h - bottom}" stroke="#888"/><line x1="${left}" y1="${top}" x2="${left}" y2="${h - bottom}" stroke="#888"/>
<text x="${left - 4}" y="${top + 4}" font-size="11" text-anchor="end">${label(vMax)}</text><text x="${left - 4}" y="${h - bottom}" font-size="11" text-anchor="end">0</text>
<text x="${w - 10}" y="${h - 8}" font-size="11" text-anchor="end">${t1.toFixed(0)} s</text><text x="${left}" y="${h - 8}" font-size="11">0 s</text>
<text x="${left}" y="16" font-size="13" font-weight="bold">${escapeHtml(title)}</text><text x="${w - 10}" y="16" font-size="11" text-anchor="end">${legend}</text>
${lines.join('\n')}
</svg></figure>`;
}

function markdown(report: RunReport): string {
  const rows = report.replicas.map(
    (r) =>
      `| ${r.replica} | ${r.missed} | ${r.staleService} | ${r.staleProbe} | ${r.maxStaleWindowSeconds.toFixed(2)} s | ${r.probeErrors} |`,
  );
  return [
    `# Demo run: ${report.scenario} on ${report.faultedReplica} (${report.mode} mode)`,
    '',
    `${report.durationSeconds} s of probe traffic; fault at ${report.faultAt.toFixed(0)} s, healed at ${report.healAt.toFixed(0)} s.`,
    '',
    '| replica | messages missed | stale reads (service) | stale reads (probe) | max stale window (probe) | probe errors |',
    '|---|---|---|---|---|---|',
    ...rows,
    '',
    `Probe writes: ${report.probe.writes.ok} acknowledged, ${report.probe.writes.errors} failed.`,
    '',
  ].join('\n');
}

function html(report: RunReport): string {
  const charts = [
    chart('Stale reads seen by the probe (cumulative)', report, (r) => r.staleProbe, 'n'),
    chart('Stale reads seen by the service (cumulative)', report, (r) => r.staleService, 'n'),
    chart('Messages missed (cumulative)', report, (r) => r.missed, 'n'),
    chart('Invalidation lag p99', report, (r) => r.lagP99, 's'),
    chart('Hit ratio', report, (r) => r.hitRatio, '%'),
  ];
  const table = report.replicas
    .map(
      (r) =>
        `<tr><td>${escapeHtml(r.replica)}</td><td>${r.missed}</td><td>${r.staleService}</td><td>${r.staleProbe}</td><td>${r.maxStaleWindowSeconds.toFixed(2)} s</td><td>${r.probeErrors}</td></tr>`,
    )
    .join('');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>local-cache-sync demo: ${escapeHtml(report.scenario)}</title>
<style>body{font-family:system-ui,sans-serif;margin:24px;color:#222}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:4px 10px;text-align:right}th{background:#f3f3f3}figure{margin:16px 0}</style>
</head><body>
<h1>${escapeHtml(report.scenario)} on ${escapeHtml(report.faultedReplica)}, ${escapeHtml(report.mode)} mode</h1>
<p>${report.durationSeconds} s of probe traffic; the shaded band is the fault, from ${report.faultAt.toFixed(0)} s to ${report.healAt.toFixed(0)} s.</p>
<table><tr><th>replica</th><th>messages missed</th><th>stale reads (service)</th><th>stale reads (probe)</th><th>max stale window</th><th>probe errors</th></tr>${table}</table>
${charts.join('\n')}
</body></html>
`;
}

/** Writes summary.json, report.md and a self-contained report.html into `dir`. */
export function writeReport(dir: string, report: RunReport): void {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'summary.json'), `${JSON.stringify(report, null, 2)}\n`);
  writeFileSync(join(dir, 'report.md'), markdown(report));
  writeFileSync(join(dir, 'report.html'), html(report));
}
