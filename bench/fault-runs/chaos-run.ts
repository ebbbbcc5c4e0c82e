// `make chaos-run`: every sync mode through the same seeded random sequence of faults, with a
// history checker afterwards (bench/fault-runs/chaos.ts, verdict.ts). Writes reports/chaos-<date>/ and, for a full run
// (every mode, 10 minutes or more), docs/chaos-run.md and the README's sync-mode table.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { SYNC_MODES, type SyncMode, type TopologyKind } from '@local-cache-sync/core';
import { renderHtml } from '../../service/demo/report';
import { chaosFaults, chaosSchedule } from '../../service/local-stack/chaos-schedule';
import { ROOT } from '../../service/local-stack/processes';
import { answerHelp } from '../../service/src/cli';
import { formatNines } from '../../service/src/probe/history';
import { type ChaosRun, runChaos } from './chaos';
import { runNines, summaryLine, verdicts } from './verdict';

const TTL_SECONDS = 300;
const FULL_SECONDS = 600;

const USAGE = `usage: make chaos-run   (or npx tsx bench/fault-runs/chaos-run.ts)
Every sync mode through the same seeded random sequence of faults (short and long pauses, cuts,
kills, Redis restarts, crashes before publish; failovers on Sentinel or Cluster), three replicas
under the probe's traffic, then a checker that reads the whole client history: stale reads and
their ages, stale books left, the nines of each freshness SLI, and the service's counters against
the history. Writes reports/chaos-<date>/ (report.md, results.json, <mode>.html); a full run
(every mode, DURATION >= ${FULL_SECONDS}) also writes docs/chaos-run.md and the README's sync-mode table.
Environment:
  DURATION=s   seconds of faults per mode (default ${FULL_SECONDS})
  SEED=n       the schedule's seed (default 1)
  MODES=a,b    sync modes (default: ${SYNC_MODES.join(', ')})
  TOPOLOGY=t   standalone (default), sentinel or cluster
  --help       this text`;

const MODE_ROWS: Record<SyncMode, [string, string]> = {
  pubsub: ['nothing: stale entries stay until the TTL', 'serves from the cache'],
  'pubsub-flush': ['clears the local cache', 'bypasses the cache'],
  stream: [
    'replays exactly the missed invalidations from a Redis Stream written with each publish',
    'bypasses the cache',
  ],
};

/** Whose default a mode is: the service's shows the classic failure, the library's is the safe one. */
const DEFAULT_OF: Partial<Record<string, string>> = {
  pubsub: " (the service's default)",
  stream: " (the library's default)",
};

/** The README's sync-mode table, with the nines a full randomized run measured. */
function modeTable(runs: ChaosRun[]): string {
  const lines = [
    '| mode | after a gap, a reconnect or silent peers | while the bus cannot be trusted | nines under randomized faults: fresh reads / converged deliveries |',
    '|---|---|---|---|',
  ];
  for (const mode of SYNC_MODES) {
    const run = runs.find((r) => r.mode === mode);
    const n = run ? runNines(run) : undefined;
    const [gap, untrusted] = MODE_ROWS[mode];
    lines.push(
      `| \`${mode}\`${DEFAULT_OF[mode] ?? ''} | ${gap} | ${untrusted} | ${n ? `${formatNines(n.freshReads)} / ${formatNines(n.convergedDeliveries)}` : '-'} |`,
    );
  }
  return lines.join('\n');
}

const fmt = (x: number | undefined, digits = 2) => (x === undefined || Number.isNaN(x) ? '-' : x.toFixed(digits));

function markdown(runs: ChaosRun[], header: string): string {
  const schedule = runs[0]!.steps;
  const counts = new Map<string, number>();
  for (const s of schedule) counts.set(s.fault, (counts.get(s.fault) ?? 0) + 1);
  const rows = runs.map((run) => {
    const n = runNines(run);
    const ages = run.check.staleReads.map((r) => r.ageSeconds);
    return `| ${run.mode} | ${run.check.readsJudged} | ${ages.length} | ${ages.length ? fmt(Math.max(...ages)) : '-'} s | ${run.check.staleBooksLeft.length} | ${formatNines(n.freshReads)} | ${formatNines(n.convergedDeliveries)} | ${formatNines(n.freshHits)} | ${run.service.missed} | ${run.service.staleReads} |`;
  });
  const slo = runs.flatMap((run) =>
    Object.entries(run.slo).map(
      ([sli, v]) =>
        `| ${run.mode} | ${sli} | ${v.budgetLeft === undefined ? '-' : `${(v.budgetLeft * 100).toFixed(0)} %`} | ${fmt(v.maxBurnRate5m, 1)} | ${fmt(v.maxBurnRate1h, 1)} |`,
    ),
  );
  const checks = runs.flatMap((run) =>
    verdicts(run).map((v) => `| ${run.mode} | ${v.name} | ${v.ok ? 'yes' : '**NO**'} | ${v.detail} |`),
  );
  return `# Sync modes under randomized faults (\`make chaos-run\`)

${header}

The schedule (the same for every mode): ${schedule.length} faults, ${[...counts].map(([f, c]) => `${c} ${f}`).join(', ')}.

| mode | reads judged | stale reads | oldest stale read | stale books left | fresh reads (nines) | converged deliveries (nines) | fresh hits (nines) | messages missed | stale reads (service) |
|---|---|---|---|---|---|---|---|---|---|
${rows.join('\n')}

"Stale": a read that returned a version older than one the client knew was committed (acknowledged, or returned by a read) before it sent the read; its age is how long after that it was sent. "Stale books left": books a replica still served stale in the final reads, after every replica was back and settled. Nines are -log10 of the error ratio; "≥" when nothing failed (the bound is log10 of the events).

## What the SLO rules showed during the run

The budget left is Sloth's 30-day period ratio over the data the run produced; burn rates are the largest the 5 m and 1 h windows reached (1 spends the budget in exactly 30 days).

| mode | SLI | budget left | max burn rate (5 m) | max burn rate (1 h) |
|---|---|---|---|---|
${slo.join('\n')}

## The service's counters against the history

| mode | check | holds | detail |
|---|---|---|---|
${checks.join('\n')}

## Summary

${runs.map((r) => `- ${summaryLine(r)}`).join('\n')}
`;
}

const README_START = '<!-- sync-mode-table: written by make chaos-run -->';
const README_END = '<!-- /sync-mode-table -->';

function writeReadmeTable(runs: ChaosRun[], date: string, seed: number): void {
  const path = join(ROOT, 'README.md');
  const readme = readFileSync(path, 'utf8');
  const [start, end] = [readme.indexOf(README_START), readme.indexOf(README_END)];
  if (start < 0 || end < start) throw new Error(`README.md has no ${README_START} ... ${README_END} block`);
  const block = `${README_START}\n${modeTable(runs)}\n\nNines measured by \`make chaos-run\` on ${date.slice(0, 10)} (seed ${seed}, ${Math.round(runs[0]!.seconds / 60)} minutes of random faults per mode): [docs/chaos-run.md](docs/chaos-run.md).\n${README_END}`;
  writeFileSync(path, readme.slice(0, start) + block + readme.slice(end + README_END.length));
}

async function main() {
  answerHelp(USAGE);
  const seconds = Number(process.env.DURATION ?? FULL_SECONDS);
  const seed = Number(process.env.SEED ?? 1);
  const topology = (process.env.TOPOLOGY ?? 'standalone') as TopologyKind;
  const modes = (process.env.MODES ? process.env.MODES.split(',') : [...SYNC_MODES]) as SyncMode[];
  const unknown = modes.filter((m) => !SYNC_MODES.includes(m));
  if (unknown.length > 0) throw new Error(`unknown MODES: ${unknown.join(', ')} (modes: ${SYNC_MODES.join(', ')})`);
  if (!['standalone', 'sentinel', 'cluster'].includes(topology))
    throw new Error(`unknown TOPOLOGY: ${topology} (standalone, sentinel or cluster)`);
  if (!(seconds > 0) || !Number.isInteger(seed))
    throw new Error('DURATION must be a positive number and SEED an integer');
  const schedule = chaosSchedule(seed, seconds, topology);
  process.stdout.write(
    `chaos-run: seed ${seed}, ${schedule.length} faults drawn from ${chaosFaults(topology).join(', ')} on ${topology}, modes ${modes.join(', ')}\n`,
  );
  const runs: ChaosRun[] = [];
  for (const mode of modes) {
    process.stdout.write(`chaos-run: ${mode}\n`);
    const run = await runChaos({
      mode,
      topology,
      seed,
      schedule,
      ttlSeconds: TTL_SECONDS,
      log: (line) => process.stdout.write(`  ${line}\n`),
    });
    runs.push(run);
    process.stdout.write(`${summaryLine(run)}\n`);
  }
  const date = new Date().toISOString();
  const dir = join(ROOT, 'reports', `chaos-${date.replace(/[:.]/g, '-')}`);
  mkdirSync(dir, { recursive: true });
  const header = `Run ${date} on ${cpus().length} cores (${cpus()[0]?.model ?? 'unknown CPU'}), Node ${process.version}; ${topology} Redis, three replicas, TTL ${TTL_SECONDS} s, probe 150 ops/s (80 % reads, 20 books, writes through book-2), seed ${seed}, about ${seconds} s of faults per mode (${runs.map((r) => `${r.mode} ${r.seconds.toFixed(0)} s`).join(', ')} in all).`;
  const text = markdown(runs, header);
  writeFileSync(join(dir, 'report.md'), text);
  writeFileSync(
    join(dir, 'results.json'),
    `${JSON.stringify(
      runs.map(({ report, ...run }) => ({ ...run, check: { ...run.check, staleReads: run.check.staleReads.length } })),
      null,
      2,
    )}\n`,
  );
  for (const run of runs) writeFileSync(join(dir, `${run.mode}.html`), renderHtml(run.report));
  const full = modes.length === SYNC_MODES.length && seconds >= FULL_SECONDS && topology === 'standalone';
  if (full) {
    writeFileSync(join(ROOT, 'docs/chaos-run.md'), text);
    writeReadmeTable(runs, date, seed);
  }
  process.stdout.write(`\n${text}\nwritten to ${dir}${full ? ', docs/chaos-run.md and the README' : ''}\n`);
  if (runs.some((run) => verdicts(run).some((v) => !v.ok))) process.exitCode = 1;
}

main().catch((error) => {
  process.stderr.write(`chaos-run failed: ${(error as Error).stack}\n`);
  process.exit(1);
});
