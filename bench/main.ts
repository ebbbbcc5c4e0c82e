// `make bench`: every benchmark in one run, written to bench/RESULTS.md, bench/results.json and
// docs/bench-chart.svg.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from '../service/local-stack/processes';
import { answerHelp } from '../service/src/cli';
import { lagSteps } from './lag/lag-steps';
import { type BenchResults, FULL_PLAN } from './plan';
import { benchChart } from './report/chart';
import { headline } from './report/headline';
import { targetsLine, writeReadmeSection } from './report/readme-section';
import { resultsMarkdown } from './report/report';
import { runBench } from './suite';

const USAGE = `usage: make bench   (or npm run bench -- [--render])
Every benchmark in one run (about 27 minutes before the fresh side by side at 2 to 16 receivers was added): read path (on loopback and behind Toxiproxy's latency),
tracing and metrics on cached reads, the receive path per message, invalidation lag against the raw
PUBLISH floor and the peers (BentoCache, node-redis client-side caching) and on a Redis Cluster,
zero-loss throughput, memory. Writes bench/results.json, bench/RESULTS.md (tables and their
analysis, both generated from the numbers), docs/bench-chart.svg and the README's targets line.
  --render   rewrite RESULTS.md, the chart and the README's line from bench/results.json without measuring
  --help     this text`;

async function main() {
  answerHelp(USAGE);
  const results: BenchResults = process.argv.includes('--render')
    ? (JSON.parse(readFileSync(join(ROOT, 'bench/results.json'), 'utf8')) as BenchResults)
    : await runBench(FULL_PLAN);
  if (!process.argv.includes('--render'))
    writeFileSync(join(ROOT, 'bench/results.json'), `${JSON.stringify(results, null, 2)}\n`);
  const markdown = resultsMarkdown(results);
  writeFileSync(join(ROOT, 'bench/RESULTS.md'), markdown);
  const machine = /^Run (.*?) with `make bench` on (.*?), redis-server/m.exec(markdown);
  writeReadmeSection(
    'bench',
    targetsLine(
      `\`make bench\` on ${machine?.[1] ?? results.date} (${machine?.[2] ?? 'machine not recorded'})`,
      markdown,
    ),
  );
  const rate = results.plan.rates.includes(1000) ? 1000 : results.plan.rates[0]!;
  writeFileSync(join(ROOT, 'docs/bench-chart.svg'), benchChart(results.readPath, lagSteps(results), rate));
  process.stdout.write(
    `${JSON.stringify(headline(results), null, 2)}\nwritten: bench/RESULTS.md, bench/results.json, docs/bench-chart.svg\n`,
  );
}

main().catch((error) => {
  process.stderr.write(`bench failed: ${(error as Error).stack}\n`);
  process.exit(1);
});
