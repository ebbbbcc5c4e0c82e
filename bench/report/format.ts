import { cpus, totalmem } from 'node:os';
import { median, type Spread } from '../lag/lag-steps';

export const ms = (v: number) => `${v.toFixed(2)} ms`;

export const x = (v: number) => (Number.isFinite(v) ? `${v.toFixed(2)}x` : 'n/a');

export const int = (v: number) => Math.round(v).toLocaleString('en-US');

export const verdict = (ok: boolean) => (ok ? 'met' : '**missed**');

export const p50s = (runs: { p50Ms: number }[]) => runs.map((run) => run.p50Ms);

export const p99s = (runs: { p99Ms: number }[]) => runs.map((run) => run.p99Ms);

/** One table row comparing runs of two kinds (interleaved): each kind's median and range, and their ratio. */
export function comparedRow<T>(what: string, a: T[], b: T[], pick: (run: T) => number, format = ms): string {
  const range = (v: number[]) => `${format(Math.min(...v))} to ${format(Math.max(...v))}`;
  const [va, vb] = [a.map(pick), b.map(pick)];
  // autocannon reports whole milliseconds: a median of 0 has no ratio.
  const ratio = median(vb) > 0 ? x(median(va) / median(vb)) : 'n/a';
  return `| ${what} | ${format(median(va))} (${range(va)}) | ${format(median(vb))} (${range(vb)}) | ${ratio} |`;
}

export const ratioCell = (v: Spread) => `${x(v.median)} (${x(v.min)} to ${x(v.max)})`;

export const msMedian = (values: number[]) => ms(median(values));

/** The machine a run measured on, and when: cores and CPU model, memory, Node, the run's time. */
export const machineNow = () =>
  `${cpus().length} cores (${cpus()[0]?.model ?? 'unknown CPU'}), ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}, run ${new Date().toISOString()}`;
