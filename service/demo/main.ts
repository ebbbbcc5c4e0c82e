import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { SYNC_MODES, type TopologyKind } from '@local-cache-sync/core';
import { TOPOLOGIES } from '@local-cache-sync/core/transport';
import { z } from 'zod';
import { FAULTS, type FaultName, isFaultName } from '../local-stack/faults';
import { ferretdbBinary, onPath, ROOT, waitFor } from '../local-stack/processes';
import { COMPOSE_PUBSUB_LIMIT, type Stack, startStack } from '../local-stack/stack';
import { parseOptions } from '../src/cli';
import { Director } from './director';
import { Display } from './display';
import { interactive } from './interactive';
import { prometheusLinks, startLivePage } from './live-page';
import { Monitor } from './monitor';
import { type RunReport, replicaTotals, writeReport } from './report';
import { runTour, TOUR_REPLICA } from './tour';

const USAGE = `usage: make demo [TOUR=1 | SCENARIO=<fault> DURATION=<seconds>] [MODE=<mode>] [TOPOLOGY=<topology>]
   or: node --import tsx service/demo/main.ts [options]
The whole stack on local binaries (redis-server, a MongoDB-wire server, 3 replicas, the probe,
Prometheus), and a live page on loopback (its URL is printed). Without --scenario: a live view
where keys inject faults (? explains the columns, q quits).
  --scenario F   run one fault and stop: ${Object.keys(FAULTS).join(', ')};
                 or tour: the guided tour (about 95 s; pubsub, then stream)
  --duration S   seconds of a one-fault run (default 60, at least 10)
  --report DIR   where a scripted run writes summary.json, report.md, report.html (default reports/)
  --page-port P  the live page's port on 127.0.0.1 (default: a free one)
  --ttl S        cache TTL of the replicas (default 300)
  --rate N       probe operations per second (default 50)
  --mode M       sync mode: ${SYNC_MODES.join(', ')} (default pubsub)
  --topology T   Redis: ${TOPOLOGIES.join(', ')} (default standalone); sentinel and cluster add
                 the failover fault (key f kills the master, b starts it again as a replica)
  --help         this text`;

const optionsSchema = z
  .object({
    scenario: z
      .string()
      .refine((s) => s === 'tour' || isFaultName(s), `must be tour or one of ${Object.keys(FAULTS).join(', ')}`)
      .optional(),
    duration: z.coerce.number().int().min(10).max(3600).default(60),
    report: z.string().optional(),
    'page-port': z.coerce.number().int().min(0).max(65535).default(0),
    ttl: z.coerce.number().int().min(1).max(86400).default(300),
    rate: z.coerce.number().positive().max(5000).default(50),
    mode: z.enum(SYNC_MODES).default('pubsub'),
    topology: z.enum(TOPOLOGIES as [TopologyKind, ...TopologyKind[]]).default('standalone'),
  })
  .refine((o) => o.scenario !== 'failover' || o.topology !== 'standalone', {
    message: 'needs --topology sentinel or cluster (standalone Redis has no replica to fail over to)',
    path: ['scenario'],
  })
  .refine((o) => !['cut', 'tour'].includes(o.scenario ?? '') || o.topology === 'standalone', {
    message: 'needs --topology standalone (the Toxiproxy proxies sit in front of one Redis)',
    path: ['scenario'],
  });

/** What the demo needs on this machine, and how to get what is missing. */
function missingBinaries(): string[] {
  const missing: string[] = [];
  if (!onPath('redis-server')) missing.push('redis-server (Debian/Ubuntu: apt-get install redis-server)');
  if (!onPath('mongod') && !existsSync(ferretdbBinary())) {
    missing.push('a MongoDB-wire server: mongod on PATH, or FerretDB built by `make deps` into .cache/bin (needs Go)');
  }
  if (!existsSync(join(ROOT, 'dist/main.js'))) missing.push('the built service: run `npm run build` (make demo does)');
  return missing;
}

type Options = ReturnType<typeof readOptions>;
const readOptions = () => parseOptions('demo', optionsSchema, USAGE);

async function main(): Promise<number> {
  const options = readOptions();
  const missing = missingBinaries();
  if (missing.length > 0) {
    process.stderr.write(`demo: missing on this machine:\n${missing.map((m) => `  - ${m}`).join('\n')}\n`);
    return 3;
  }

  const redisServers = {
    standalone: 'redis-server',
    sentinel: 'a Sentinel set (2 redis-servers, 3 Sentinels)',
    cluster: 'a 6-node Redis Cluster',
  };
  process.stdout.write(
    `demo: starting ${redisServers[options.topology]}, the MongoDB-wire server, 3 replicas, the probe and prometheus...\n`,
  );
  const startedAt = Date.now();
  const stack = await startStack({
    ttlSeconds: options.ttl,
    prometheus: true,
    probeRate: options.rate,
    probeKeys: 50,
    seed: 1,
    heartbeatMs: 500,
    syncMode: options.scenario === 'tour' ? 'pubsub' : options.mode,
    topology: options.topology,
    // The compose file's limit, so a paused replica is cut within seconds as it is under `make up`.
    pubsubBufferLimit: COMPOSE_PUBSUB_LIMIT,
    databaseProxy: true,
  });
  const cleanups: (() => Promise<unknown>)[] = [];
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => undefined);
    const { pids, dirs } = stack.resources();
    await stack.stop();
    const alive = pids.filter((pid) => {
      try {
        process.kill(pid, 0);
        return true;
      } catch {
        return false;
      }
    });
    const left = dirs.filter((dir) => existsSync(dir));
    process.stdout.write(
      `demo: stopped ${pids.length} processes and removed ${dirs.length} temporary folders` +
        (alive.length + left.length > 0 ? ` (STILL THERE: pids ${alive.join(',')} dirs ${left.join(',')})` : '') +
        '\n',
    );
  };
  for (const signal of ['SIGINT', 'SIGTERM'] as const)
    process.once(signal, () => void stop().then(() => process.exit(130)));

  try {
    const display = new Display(() => stack.syncMode);
    const startMode = stack.syncMode;
    let director: Director | undefined;
    const monitor = new Monitor(
      () => stack.replicas,
      stack.probe,
      (id) => director?.paused(id) ?? false,
    );
    director = new Director(stack, monitor, display);
    const title =
      options.scenario === 'tour'
        ? 'guided tour'
        : options.scenario
          ? `${FAULTS[options.scenario as FaultName].label} on ${stack.replicas[TOUR_REPLICA]!.id}`
          : 'live demo';
    const snapshot = (): RunReport => runReport(title, startMode, stack, monitor, director!);
    const page = await startLivePage(
      snapshot,
      {
        refreshSeconds: 2,
        links: stack.prometheus ? prometheusLinks(stack.prometheus.url) : [],
      },
      options['page-port'],
    );
    cleanups.push(() => page.close());
    const urls = [
      `live page ${page.url}`,
      stack.prometheus ? `prometheus ${stack.prometheus.url}` : 'prometheus: not installed (the view needs none)',
    ];
    process.stdout.write(`${[...stack.replicas.map((r) => `${r.id} ${r.url}`), ...urls].join('\n')}\n`);
    process.stdout.write(`demo: first numbers after ${((Date.now() - startedAt) / 1000).toFixed(1)} s\n`);
    display.urls = [urls.join('  ')];
    display.start(monitor);
    cleanups.push(async () => display.stop());
    if (!options.scenario) return await interactive(stack, director, display);
    if (options.scenario === 'tour') await runTour(stack, director, display);
    else await scripted(monitor, director, options.scenario as FaultName, options);
    display.stop();
    stack.probe.stop();
    await stack.probe.done;
    await monitor.sample();
    const report = snapshot();
    const dir =
      options.report ??
      join(ROOT, 'reports', `demo-${options.scenario}-${new Date().toISOString().replace(/[:.]/g, '-')}`);
    writeReport(dir, report);
    process.stdout.write(`demo: report written to ${dir} (report.md, report.html, summary.json)\n`);
    return 0;
  } finally {
    await stop();
  }
}

/** The run so far, as the report and the live page draw it. */
function runReport(title: string, mode: string, stack: Stack, monitor: Monitor, director: Director): RunReport {
  const probe = stack.probe.summary();
  const last = monitor.samples.at(-1);
  return {
    title,
    mode,
    durationSeconds: last?.t ?? 0,
    faults: director.windows,
    outcomes: director.outcomes,
    samples: monitor.samples,
    probe,
    resources: stack.resources(),
    replicas: replicaTotals(last, probe),
  };
}

/** One fault on the last replica: injected at 30 % of the duration, healed at 60 %. */
async function scripted(monitor: Monitor, director: Director, fault: FaultName, options: Options): Promise<void> {
  const [faultAt, healAt] = [Math.round(options.duration * 0.3), Math.round(options.duration * 0.6)];
  const at = (seconds: number) =>
    waitFor(() => (monitor.samples.at(-1)?.t ?? 0) >= seconds, { timeoutMs: 3_600_000, intervalMs: 100 });
  await at(faultAt);
  await director.inject(fault, TOUR_REPLICA);
  await at(healAt);
  await director.heal(fault, TOUR_REPLICA);
  await at(options.duration);
}

main()
  .then((code) => process.exit(code))
  .catch((error) => {
    process.stderr.write(`demo failed: ${(error as Error).stack ?? error}\n`);
    process.exit(1);
  });
