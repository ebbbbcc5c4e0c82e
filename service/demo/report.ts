import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { formatNines, nines } from '../src/probe/history';
import type { ProbeSummary } from '../src/probe/summary';
import type { FaultWindow, Outcome } from './director';
import type { ReplicaSample, Sample } from './monitor';

export interface RunReport {
  /** What ran: one fault on one replica ("cut on book-3"), or the guided tour. */
  title: string;
  /** The sync mode at the start (the tour switches: see faults and outcomes). */
  mode: string;
  durationSeconds: number;
  /** Every fault, in seconds since the start, as the charts shade it. */
  faults: FaultWindow[];
  /** What each fault cost, measured from the fault to a few seconds after its heal. */
  outcomes: Outcome[];
  samples: Sample[];
  probe: ProbeSummary;
  /** Every process and temporary folder the run started (all gone once it exits). */
  resources: { pids: number[]; dirs: string[] };
  /** Totals per replica at the end. */
  replicas: {
    replica: string;
    missed: number;
    staleService: number;
    staleProbe: number;
    /** Stale values answered on purpose (fail-safe, marked X-Cache: STALE): counted by the service, and seen marked by the probe. */
    staleOnPurposeService: number;
    staleOnPurposeProbe: number;
    maxStaleWindowSeconds: number;
    probeErrors: number;
  }[];
}

/** The totals per replica at the end of a run: the last sample's service counts beside the probe's. */
export function replicaTotals(last: Sample | undefined, probe: ProbeSummary): RunReport['replicas'] {
  return (last?.replicas ?? []).map((r, i) => ({
    replica: r.replica,
    missed: r.missed,
    staleService: r.staleService,
    staleProbe: probe.replicas[i]?.stale ?? 0,
    staleOnPurposeService: r.staleOnPurposeService,
    staleOnPurposeProbe: probe.replicas[i]?.markedStale ?? 0,
    maxStaleWindowSeconds: probe.replicas[i]?.maxStaleWindowSeconds ?? 0,
    probeErrors: probe.replicas[i]?.errors ?? 0,
  }));
}

/** The live page's extras: it reloads itself and links to Prometheus. */
export interface LiveExtras {
  refreshSeconds: number;
  links: { title: string; url: string }[];
}

const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#8c564b'];
const escapeHtml = (s: string) =>
  s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);

/** A fault's shaded band, labelled; one still going runs to the newest sample. */
function band(f: FaultWindow, x: (t: number) => number, tNow: number, top: number, bottom: number, i: number): string {
  const [x0, x1] = [x(f.from), x(Math.max(f.to ?? tNow, f.from + 0.5))];
  const label = `${f.label} on ${f.replica}${f.to === undefined ? ' (now)' : ''}`;
  return `<rect class="fault${f.to === undefined ? ' ongoing' : ''}" x="${x0.toFixed(1)}" y="${top}" width="${(x1 - x0).toFixed(1)}" height="${bottom - top}" fill="#fbe3e3"/>
<text x="${(x0 + 3).toFixed(1)}" y="${top + 12 + 12 * (i % 3)}" font-size="10" fill="#b00">${escapeHtml(label)}</text>`;
}

/** A line chart as inline SVG: one line per replica, the fault window shaded. No scripts, no fonts to fetch. */
function chart(
  title: string,
  report: RunReport,
  value: (r: ReplicaSample) => number | undefined,
  unit: string,
): string {
  const [w, h, left, bottom, top] = [640, 220, 56, 28, 28];
  const t1 = Math.max(report.durationSeconds, ...report.samples.map((s) => s.t), 1);
  const tNow = report.samples.at(-1)?.t ?? 0;
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
${report.faults.map((f, i) => band(f, x, tNow, top, h - bottom, i)).join('\n')}
<line x1="${left}" y1="${h - bottom}" x2="${w - 10}" y2="${h - bottom}" stroke="#888"/><line x1="${left}" y1="${top}" x2="${left}" y2="${h - bottom}" stroke="#888"/>
<text x="${left - 4}" y="${top + 4}" font-size="11" text-anchor="end">${label(vMax)}</text><text x="${left - 4}" y="${h - bottom}" font-size="11" text-anchor="end">0</text>
<text x="${w - 10}" y="${h - 8}" font-size="11" text-anchor="end">${t1.toFixed(0)} s</text><text x="${left}" y="${h - 8}" font-size="11">0 s</text>
<text x="${left}" y="16" font-size="13" font-weight="bold">${escapeHtml(title)}</text><text x="${w - 10}" y="16" font-size="11" text-anchor="end">${legend}</text>
${lines.join('\n')}
</svg></figure>`;
}

const clock = (t: number) => `${t.toFixed(0)} s`;

function faultLines(report: RunReport): string[] {
  return report.faults.map(
    (f) =>
      `${f.label} on ${f.replica} (${f.mode}) from ${clock(f.from)}${f.to === undefined ? ', still on' : ` to ${clock(f.to)}`}`,
  );
}

/** Per fault: what it cost the replica it hit (or every replica, for Redis-wide faults). */
function outcomeRows(report: RunReport): string[][] {
  return report.outcomes.map((o) => {
    const hit = o.replicas.filter((r) => o.replica === 'every replica' || r.replica === o.replica);
    const total = (pick: (r: Outcome['replicas'][number]) => number) => String(hit.reduce((n, r) => n + pick(r), 0));
    return [
      o.mode,
      o.fault,
      o.replica,
      total((r) => r.missed),
      total((r) => r.staleProbe),
      total((r) => r.staleNow),
      String(o.replicas.reduce((n, r) => n + r.staleService, 0)),
      String(o.lostWrites),
    ];
  });
}
const OUTCOME_HEADER = [
  'mode',
  'fault',
  'on',
  'messages missed',
  'stale reads (probe)',
  'books stale after (probe)',
  'stale reads (service, every replica)',
  'writes the database lost (so far; an alarm)',
];

/** Faults run in more than one mode, side by side. */
function comparison(report: RunReport): { modes: string[]; rows: string[][] } | undefined {
  const modes = [...new Set(report.outcomes.map((o) => o.mode))];
  if (modes.length < 2) return undefined;
  const rows = outcomeRows(report);
  const faults = [...new Set(report.outcomes.map((o) => o.fault))].filter(
    (f) => new Set(report.outcomes.filter((o) => o.fault === f).map((o) => o.mode)).size > 1,
  );
  // The freshness SLIs over the faults both modes met (docs/metrics-and-tracing.md, Freshness SLOs).
  const of = (m: string) =>
    report.outcomes.filter((o) => o.mode === m && faults.includes(o.fault)).flatMap((o) => o.replicas);
  const sum = (list: Outcome['replicas'], f: (r: Outcome['replicas'][number]) => number | undefined) =>
    list.reduce((n, r) => n + (f(r) ?? 0), 0);
  const freshReads = (m: string) =>
    formatNines(
      nines(
        sum(of(m), (r) => r.staleProbe),
        sum(of(m), (r) => r.judged),
      ),
    );
  const converged = (m: string) => {
    const [applied, within, missed] = [
      sum(of(m), (r) => r.deliveries),
      sum(of(m), (r) => r.deliveredWithin1s),
      sum(of(m), (r) => r.missed),
    ];
    return formatNines(nines(applied - within + missed, applied + missed));
  };
  return {
    modes,
    rows: [
      ...faults.map((f) => [
        f,
        ...modes.map((m) => {
          const row = rows.find((r) => r[0] === m && r[1] === f);
          return row ? `${row[3]} missed, ${row[4]} stale reads, ${row[5]} stale after` : '-';
        }),
      ]),
      ['fresh reads (nines)', ...modes.map(freshReads)],
      ['converged deliveries (nines)', ...modes.map(converged)],
    ],
  };
}

const TOTALS_HEADER = [
  'replica',
  'messages missed',
  'stale reads (service)',
  'stale reads (probe)',
  'stale on purpose (service / probe saw the mark)',
  'max stale window (probe)',
  'probe errors',
];
const totalRows = (report: RunReport) =>
  report.replicas.map((r) => [
    r.replica,
    String(r.missed),
    String(r.staleService),
    String(r.staleProbe),
    `${r.staleOnPurposeService} / ${r.staleOnPurposeProbe}`,
    `${r.maxStaleWindowSeconds.toFixed(2)} s`,
    String(r.probeErrors),
  ]);

const mdTable = (header: string[], rows: string[][]) =>
  [
    `| ${header.join(' | ')} |`,
    `|${header.map(() => '---').join('|')}|`,
    ...rows.map((r) => `| ${r.join(' | ')} |`),
  ].join('\n');

function markdown(report: RunReport): string {
  const compared = comparison(report);
  return [
    `# Demo run: ${report.title} (${report.mode} mode at the start)`,
    '',
    `${report.durationSeconds.toFixed(0)} s of probe traffic. Faults: ${faultLines(report).join('; ')}.`,
    '',
    ...(compared
      ? ['## The same faults in each mode', '', mdTable(['fault', ...compared.modes], compared.rows), '']
      : []),
    ...(report.outcomes.length > 0
      ? [
          '## What each fault cost',
          '',
          mdTable(OUTCOME_HEADER, outcomeRows(report)),
          '',
          ...report.outcomes.map((o) => `- ${o.mode}, ${o.fault}: ${o.text}`),
          '',
        ]
      : []),
    '## Totals per replica',
    '',
    mdTable(TOTALS_HEADER, totalRows(report)),
    '',
    `Probe writes: ${report.probe.writes.ok} acknowledged, ${report.probe.writes.errors} failed.`,
    '',
  ].join('\n');
}

const htmlTable = (header: string[], rows: string[][], id: string) =>
  `<table id="${id}"><tr>${header.map((h) => `<th>${escapeHtml(h)}</th>`).join('')}</tr>${rows
    .map((r) => `<tr>${r.map((c) => `<td>${escapeHtml(c)}</td>`).join('')}</tr>`)
    .join('')}</table>`;

/** The report as one self-contained page; with `live`, the page the demo serves while it runs. */
export function renderHtml(report: RunReport, live?: LiveExtras): string {
  const charts = [
    chart('Stale reads seen by the probe (cumulative)', report, (r) => r.staleProbe, 'n'),
    chart('Stale reads seen by the service (cumulative)', report, (r) => r.staleService, 'n'),
    chart('Messages missed (cumulative)', report, (r) => r.missed, 'n'),
    chart('Invalidation lag p99 (last 10 s, exact)', report, (r) => r.lagP99, 's'),
    chart('Hit ratio', report, (r) => r.hitRatio, '%'),
  ];
  const compared = comparison(report);
  const totals = htmlTable(TOTALS_HEADER, totalRows(report), 'totals');
  const head = live ? `<meta http-equiv="refresh" content="${live.refreshSeconds}">` : '';
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">${head}<title>local-cache-sync demo: ${escapeHtml(report.title)}</title>
<style>body{font-family:system-ui,sans-serif;margin:24px;color:#222}table{border-collapse:collapse;margin:8px 0}td,th{border:1px solid #ccc;padding:4px 10px;text-align:right}th{background:#f3f3f3}figure{margin:16px 0}li{margin:2px 0}</style>
</head><body>
<h1>${escapeHtml(report.title)}${live ? ' (live)' : ''}, ${escapeHtml(report.mode)} mode at the start</h1>
<p>${report.durationSeconds.toFixed(0)} s of probe traffic${live ? `, refreshed every ${live.refreshSeconds} s` : ''}. Shaded: ${escapeHtml(faultLines(report).join('; ') || 'no fault yet')}.</p>
${compared ? `<h2>The same faults in each mode</h2>${htmlTable(['fault', ...compared.modes], compared.rows, 'comparison')}` : ''}
${report.outcomes.length > 0 ? `<h2>What each fault cost</h2>${htmlTable(OUTCOME_HEADER, outcomeRows(report), 'outcomes')}<ul>${report.outcomes.map((o) => `<li>${escapeHtml(`${o.mode}, ${o.fault}: ${o.text}`)}</li>`).join('')}</ul>` : ''}
<h2>Totals per replica</h2>${totals}
<p id="writes">Probe writes: ${report.probe.writes.ok} acknowledged, ${report.probe.writes.errors} failed.</p>
${live && live.links.length > 0 ? `<h2>In Prometheus</h2><ul>${live.links.map((l) => `<li><a href="${escapeHtml(l.url)}">${escapeHtml(l.title)}</a></li>`).join('')}</ul>` : ''}
${charts.join('\n')}
</body></html>
`;
}

/** Writes summary.json, report.md and a self-contained report.html into `dir`. */
export function writeReport(dir: string, report: RunReport): void {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'summary.json'), `${JSON.stringify(report, null, 2)}\n`);
  writeFileSync(join(dir, 'report.md'), markdown(report));
  writeFileSync(join(dir, 'report.html'), renderHtml(report));
}
