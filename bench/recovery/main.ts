// `make recovery`: what a fault costs the database afterwards, per sync mode and for node-redis
// client-side caching (bench/recovery/recovery-bench.ts); writes reports/recovery-<date>/ and the
// generated section of bench/RECOVERY.md.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from '../../service/local-stack/processes';
import { answerHelp } from '../../service/src/cli';
import { machineNow } from '../report/format';
import { targetsLine, writeReadmeSection } from '../report/readme-section';
import {
  RECOVERY_FAULTS,
  RECOVERY_PLAN,
  RECOVERY_SYSTEMS,
  type RecoveryRun,
  recoveryRun,
  startRecoveryServers,
} from './recovery-bench';
import { recoveryMarkdown } from './recovery-report';

const USAGE = `usage: make recovery   (or npx tsx bench/recovery/main.ts)
What a fault costs afterwards: ${RECOVERY_PLAN.replicas} replica processes each holding ${RECOVERY_PLAN.entries} entries and
reading ${RECOVERY_PLAN.readRate} random keys a second, through a Redis restart and through a ${RECOVERY_PLAN.cutSeconds} s cut of one
replica, in each sync mode (pubsub, pubsub-flush, stream) and for node-redis client-side caching.
Reports the source reads in the ${RECOVERY_PLAN.windowSeconds} s after the heal against the ${RECOVERY_PLAN.windowSeconds} s before, the read p99 of both,
the entries dropped, and the stream mode's targets. Writes reports/recovery-<date>/ (report.md,
results.json), bench/RECOVERY.md and the README's recovery line. About 8 minutes.
  --help   this text`;

async function main(): Promise<void> {
  answerHelp(USAGE);
  const servers = await startRecoveryServers();
  const runs: RecoveryRun[] = [];
  try {
    for (const fault of RECOVERY_FAULTS) {
      for (const system of RECOVERY_SYSTEMS) {
        process.stderr.write(`recovery: ${system} through ${fault}\n`);
        runs.push(await recoveryRun(servers.redis, servers.proxies, system, fault));
      }
    }
  } finally {
    await servers.stop();
  }
  const machine = machineNow();
  const markdown = recoveryMarkdown(runs, RECOVERY_PLAN, machine);
  const dir = join(ROOT, 'reports', `recovery-${new Date().toISOString().replace(/[:.]/g, '-')}`);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'results.json'), `${JSON.stringify({ plan: RECOVERY_PLAN, runs }, null, 2)}\n`);
  writeFileSync(join(dir, 'report.md'), `# Recovery\n\n${markdown}\n`);
  writeFileSync(
    join(ROOT, 'bench/RECOVERY.md'),
    `# Recovery after a fault\n\nWritten by \`make recovery\` (bench/recovery/); do not edit by hand.\n\n${markdown}\n`,
  );
  writeReadmeSection(
    'recovery',
    `${targetsLine(`\`make recovery\` on ${machine}`, markdown)} Every mode and node-redis side by side: [bench/RECOVERY.md](bench/RECOVERY.md).`,
  );
  process.stdout.write(`${markdown}\n\nwritten: ${dir}, bench/RECOVERY.md and the README\n`);
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
