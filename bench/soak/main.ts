// `make soak`: a steady day with no faults (bench/soak/soak.ts), its nines and memory; a full run
// (30 minutes or more at 300 writes/s or more) also writes the README's soak section.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { SyncMode } from '@local-cache-sync/core';
import { ROOT } from '../../service/local-stack/processes';
import { answerHelp } from '../../service/src/cli';
import { machineNow } from '../report/format';
import { writeReadmeSection } from '../report/readme-section';
import { runSoak, type SoakResult } from './soak';
import { soakMarkdown, soakReadmeLines } from './soak-report';

const FULL_SECONDS = 1800;
const FULL_RATE = 300;
const PROBE_RATE = 5;

const USAGE = `usage: make soak   (or npx tsx bench/soak/main.ts)
A steady day with no faults: three replicas in stream mode for DURATION seconds. A writer using the
library announces RATE invalidations a second (signed, in the same mode) to all three, and the
probe writes PROBE_RATE books a second through the Book service and reads as many (FerretDB takes
about 20 ms a write here: the service alone cannot carry hundreds a second). Reports the nines of deliveries
applied within 100 ms and within 1 s (against every invalidation published, times the other
replicas), messages missed, the client history's verdict on every read, and each replica's heap
and RSS at the start and the end, with their slope. Writes reports/soak-<date>/ (report.md,
results.json); a full run (DURATION >= ${FULL_SECONDS}, RATE >= ${FULL_RATE}) also writes the README's soak section.
Environment:
  DURATION=s   seconds (default ${FULL_SECONDS})
  RATE=n       the library writer's invalidations per second (default ${FULL_RATE})
  PROBE_RATE=n the probe's writes per second through the service (default ${PROBE_RATE})
  --from reports/soak-<date>/results.json   write the report, bench/SOAK.md and the README
               again from a run's saved results (no run)
  SEED=n       the probe's seed (default 1)
  MODE=m       sync mode (default stream)
  --help       this text`;

/** Writes a full run's report into bench/SOAK.md and its summary between the README's markers. */
function publish(result: SoakResult, markdown: string, machine: string): void {
  writeFileSync(
    join(ROOT, 'bench/SOAK.md'),
    `# Soak: a steady day\n\nWritten by \`make soak\` (bench/soak/); do not edit by hand.\n\n${markdown}\n`,
  );
  writeReadmeSection('soak', soakReadmeLines(result, machine));
}

const isFull = (r: SoakResult) => r.seconds >= FULL_SECONDS && r.announceRate >= FULL_RATE;

async function main(): Promise<void> {
  answerHelp(USAGE);
  const from = process.argv.indexOf('--from');
  if (from >= 0) {
    const file = process.argv[from + 1] ?? '';
    const saved = JSON.parse(readFileSync(file, 'utf8')) as SoakResult & { machine?: string };
    if (!isFull(saved)) throw new Error('soak: --from takes a full run (DURATION >= 1800, RATE >= 300)');
    // Results saved before they carried it: the machine as the run's report.md named it.
    const machine =
      saved.machine ??
      /\(seed \d+\); (.*)\.$/m.exec(readFileSync(join(dirname(file), 'report.md'), 'utf8'))?.[1] ??
      'machine not recorded';
    publish(saved, soakMarkdown(saved, machine), machine);
    process.stdout.write('written: bench/SOAK.md and the README\n');
    return;
  }
  const seconds = Number(process.env.DURATION ?? FULL_SECONDS);
  const announceRate = Number(process.env.RATE ?? FULL_RATE);
  const writeRate = Number(process.env.PROBE_RATE ?? PROBE_RATE);
  const seed = Number(process.env.SEED ?? 1);
  for (const [name, value] of [
    ['DURATION', seconds],
    ['RATE', announceRate],
    ['PROBE_RATE', writeRate],
    ['SEED', seed],
  ] as const)
    if (!Number.isFinite(value) || value <= 0) throw new Error(`soak: ${name} must be a positive number`);
  const mode = (process.env.MODE ?? 'stream') as SyncMode;
  const result = await runSoak({
    seconds,
    writeRate,
    announceRate,
    seed,
    mode,
    log: (line) => process.stderr.write(`soak: ${line}\n`),
  });
  const machine = machineNow();
  const markdown = soakMarkdown(result, machine);
  const dir = join(ROOT, 'reports', `soak-${new Date().toISOString().replace(/[:.]/g, '-')}`);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'results.json'), `${JSON.stringify({ ...result, machine }, null, 2)}\n`);
  writeFileSync(join(dir, 'report.md'), `# Soak\n\n${markdown}\n`);
  if (isFull(result)) publish(result, markdown, machine);
  process.stdout.write(`${markdown}\n\nwritten: ${dir}\n`);
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
