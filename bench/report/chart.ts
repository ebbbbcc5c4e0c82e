import { type LagStep, median } from '../lag/lag-steps';
import { PEER_SYSTEMS } from '../lag/peer-lag';
import type { ReadPathRow } from '../read-path/read-path';

const esc = (text: string) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;');
const COLORS = ['#3274d9', '#e0752d', '#56a64b', '#8f3bb8'];

interface Bar {
  label: string;
  value: number;
  color: string;
}

/** One bar panel at (x, y), w x h, with a title and values printed on the bars. */
function bars(
  x: number,
  y: number,
  w: number,
  h: number,
  title: string,
  items: Bar[],
  format: (v: number) => string,
  groups: string[] = [],
): string {
  const max = Math.max(...items.map((b) => b.value), 1e-9);
  const plotTop = y + 30;
  const plotHeight = h - 80;
  const slot = w / items.length;
  const parts = [`<text x="${x + w / 2}" y="${y + 16}" text-anchor="middle" font-weight="bold">${esc(title)}</text>`];
  items.forEach((bar, i) => {
    const barHeight = (bar.value / max) * plotHeight;
    const bx = x + i * slot + slot * 0.15;
    const by = plotTop + plotHeight - barHeight;
    parts.push(
      `<rect x="${bx.toFixed(1)}" y="${by.toFixed(1)}" width="${(slot * 0.7).toFixed(1)}" height="${barHeight.toFixed(1)}" fill="${bar.color}"/>`,
      `<text x="${(bx + slot * 0.35).toFixed(1)}" y="${(by - 4).toFixed(1)}" text-anchor="middle" font-size="11">${esc(format(bar.value))}</text>`,
      `<text x="${(bx + slot * 0.35).toFixed(1)}" y="${plotTop + plotHeight + 16}" text-anchor="middle" font-size="11">${esc(bar.label)}</text>`,
    );
  });
  groups.forEach((group, i) => {
    const gw = w / groups.length;
    parts.push(
      `<text x="${(x + i * gw + gw / 2).toFixed(1)}" y="${plotTop + plotHeight + 34}" text-anchor="middle" font-size="12">${esc(group)}</text>`,
    );
  });
  parts.push(`<line x1="${x}" y1="${plotTop + plotHeight}" x2="${x + w}" y2="${plotTop + plotHeight}" stroke="#444"/>`);
  return parts.join('\n');
}

/** The README's chart: read-path throughput, and lag p99 by replica count against the raw floor and the peers (medians). */
export function benchChart(readPath: ReadPathRow[], steps: LagStep[], rate: number): string {
  const width = 960;
  const height = 340;
  const paths = [...new Set(readPath.map((row) => row.path))];
  const readBars = paths.map((path, i) => ({
    label: path.replace(' (constant)', ''),
    value: median(readPath.filter((row) => row.path === path).map((row) => row.requestsPerSecond)),
    color: COLORS[i % COLORS.length]!,
  }));
  const atRate = steps.filter((step) => step.rate === rate);
  const p99 = (runs: { p99Ms: number }[]) => median(runs.map((run) => run.p99Ms));
  const lagBars = atRate.flatMap((step) => [
    { label: 'raw', value: p99(step.floor), color: '#999' },
    { label: 'service', value: p99(step.service), color: COLORS[0]! },
    ...PEER_SYSTEMS.filter((system) => step.peers[system].length > 0).map((system, i) => ({
      label: system === 'bentocache' ? 'bento' : 'csc',
      value: p99(step.peers[system]),
      color: COLORS[(i + 1) % COLORS.length]!,
    })),
  ]);
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="13">`,
    `<rect width="${width}" height="${height}" fill="#fff"/>`,
    bars(20, 10, 440, height - 20, 'GET /books/:id, requests per second', readBars, (v) => v.toFixed(0)),
    bars(
      500,
      10,
      440,
      height - 20,
      `invalidation lag p99 at ${rate}/s (ms), by replicas`,
      lagBars,
      (v) => v.toFixed(1),
      atRate.map((step) => `${step.receivers} replicas`),
    ),
    '</svg>',
  ].join('\n');
}
