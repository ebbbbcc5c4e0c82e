// `make bench`: every benchmark of issue 7 in one run, written to bench/RESULTS.md,
// bench/results.json and docs/bench-chart.svg.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from '../service/src/demo/processes';
import { benchChart } from './chart';
import { headline, resultsMarkdown } from './report';
import { type BenchResults, FULL_PLAN, runBench } from './run';

async function main() {
  // --render: rewrite RESULTS.md and the chart from results.json (after editing analysis.md).
  const results: BenchResults = process.argv.includes('--render')
    ? (JSON.parse(readFileSync(join(ROOT, 'bench/results.json'), 'utf8')) as BenchResults)
    : await runBench(FULL_PLAN);
  const analysisFile = join(ROOT, 'bench/analysis.md');
  const analysis = existsSync(analysisFile) ? readFileSync(analysisFile, 'utf8').trim() : '';
  if (!process.argv.includes('--render'))
    writeFileSync(join(ROOT, 'bench/results.json'), `${JSON.stringify(results, null, 2)}\n`);
  writeFileSync(join(ROOT, 'bench/RESULTS.md'), resultsMarkdown(results, analysis));
  const rate = results.plan.rates.includes(1000) ? 1000 : results.plan.rates[0]!;
  writeFileSync(join(ROOT, 'docs/bench-chart.svg'), benchChart(results.readPath, results.lag, results.floor, rate));
  process.stdout.write(
    `${JSON.stringify(headline(results), null, 2)}\nwritten: bench/RESULTS.md, bench/results.json, docs/bench-chart.svg\n`,
  );
}

main().catch((error) => {
  process.stderr.write(`bench failed: ${(error as Error).stack}\n`);
  process.exit(1);
});
