// `make bench-profile`: a CPU profile (--cpu-prof) of one replica serving GET /books/:id from its
// local cache under autocannon, summed by package: what bounds the read path's requests per second.
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import autocannon from 'autocannon';
import { ROOT } from '../../service/local-stack/processes';
import { answerHelp } from '../../service/src/cli';
import { BENCH_BOOK } from '../../service/src/http/bench-routes';
import { postBook, startBenchServers } from '../servers';

interface CpuProfile {
  nodes: { id: number; callFrame: { functionName: string; url: string } }[];
  samples: number[];
  timeDeltas: number[];
}

/** Self time per package (node_modules name, node: module, the service, or V8's own entries), as fractions. */
export function selfTimeByPackage(profile: CpuProfile): [string, number][] {
  const frames = new Map(profile.nodes.map((n) => [n.id, n.callFrame]));
  const totals = new Map<string, number>();
  let all = 0;
  profile.samples.forEach((id, i) => {
    const frame = frames.get(id);
    if (!frame) return;
    const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(frame.url)?.[1];
    const key =
      pkg ??
      (frame.url.startsWith('node:')
        ? frame.url
        : frame.url.includes('/dist/')
          ? 'the service (dist/)'
          : frame.url || frame.functionName);
    const delta = profile.timeDeltas[i] ?? 0;
    totals.set(key, (totals.get(key) ?? 0) + delta);
    all += delta;
  });
  return [...totals].map(([key, t]) => [key, t / all] as [string, number]).sort((a, b) => b[1] - a[1]);
}

async function main() {
  answerHelp(
    'usage: make bench-profile   (or npx tsx bench/read-path/cpu-profile.ts)\nA CPU profile (--cpu-prof) of one replica serving cached reads under autocannon, summed by\npackage, written to reports/profile/ (about 30 s).\n  --help   this text',
  );
  const dir = join(ROOT, 'reports/profile');
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const servers = await startBenchServers();
  try {
    const replica = await servers.replica('profile', { BENCH_ROUTES: '1' }, ['--cpu-prof', `--cpu-prof-dir=${dir}`]);
    const { id } = await postBook(replica.url, BENCH_BOOK);
    await fetch(`${replica.url}/books/${id}`);
    const result = await autocannon({ url: `${replica.url}/books/${id}`, connections: 10, duration: 8 });
    await replica.stop(); // the profile is written on exit
    const file = readdirSync(dir).find((f) => f.endsWith('.cpuprofile'));
    if (!file) throw new Error('no profile written');
    const lines = [
      `GET /books/:id from the local cache: ${Math.round(result.requests.average)} req/s; self time by package:`,
      ...selfTimeByPackage(JSON.parse(readFileSync(join(dir, file), 'utf8')) as CpuProfile)
        .slice(0, 20)
        .map(([key, share]) => `${(share * 100).toFixed(1).padStart(5)} %  ${key}`),
    ];
    writeFileSync(join(dir, 'summary.txt'), `${lines.join('\n')}\n`);
    process.stdout.write(
      `${lines.join('\n')}\nprofile: ${join(dir, file)} (open in Chrome DevTools or speedscope for the flame graph)\n`,
    );
  } finally {
    await servers.stop();
  }
}

main().catch((error) => {
  process.stderr.write(`profile failed: ${(error as Error).stack}\n`);
  process.exit(1);
});
