import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { FAULTS, type FaultName, heal, inject, isFaultName } from '../local-stack/faults';
import { ferretdbBinary, onPath, ROOT } from '../local-stack/processes';
import { type Stack, startStack } from '../local-stack/stack';
import { parseOptions } from '../src/cli';
import { SYNC_MODES } from '../src/sync/recovery';
import { TOPOLOGIES, type TopologyKind } from '../src/sync/redis-topology';
import { Monitor } from './monitor';
import { writeReport } from './report';
import { renderPlain, renderView, type ViewState } from './view';

const USAGE = `usage: make demo [SCENARIO=<fault> DURATION=<seconds>] [MODE=<mode>] [TOPOLOGY=<topology>]
   or: node --import tsx service/demo/main.ts [options]
The whole stack on local binaries (redis-server, a MongoDB-wire server, 3 replicas, the probe,
Prometheus). Without --scenario: a live view where keys inject faults (q quits).
  --scenario F   run one fault and stop: ${Object.keys(FAULTS).join(', ')}
  --duration S   seconds of a scripted run (default 60, at least 10)
  --report DIR   where a scripted run writes summary.json, report.md, report.html (default reports/)
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
      .refine(isFaultName, `must be one of ${Object.keys(FAULTS).join(', ')}`)
      .optional(),
    duration: z.coerce.number().int().min(10).max(3600).default(60),
    report: z.string().optional(),
    ttl: z.coerce.number().int().min(1).max(86400).default(300),
    rate: z.coerce.number().positive().max(5000).default(50),
    mode: z.enum(SYNC_MODES).default('pubsub'),
    topology: z.enum(TOPOLOGIES as [TopologyKind, ...TopologyKind[]]).default('standalone'),
  })
  .refine((o) => o.scenario !== 'failover' || o.topology !== 'standalone', {
    message: 'needs --topology sentinel or cluster (standalone Redis has no replica to fail over to)',
    path: ['scenario'],
  })
  .refine((o) => o.scenario !== 'cut' || o.topology === 'standalone', {
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

async function main(): Promise<number> {
  const options = parseOptions('demo', optionsSchema, USAGE);
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
    syncMode: options.mode,
    topology: options.topology,
  });
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
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
    const urls = [
      ...stack.replicas.map((r) => `${r.id} ${r.url}`),
      stack.prometheus ? `prometheus ${stack.prometheus.url}` : 'prometheus: not installed (the view below needs none)',
    ];
    process.stdout.write(`${urls.join('\n')}\n`);
    process.stdout.write(`demo: first numbers after ${((Date.now() - startedAt) / 1000).toFixed(1)} s\n`);
    const monitor = new Monitor(() => stack.replicas, stack.probe);
    if (options.scenario) return await scripted(stack, monitor, options.scenario as FaultName, options);
    return await interactive(stack, monitor, urls);
  } finally {
    await stop();
  }
}

async function scripted(
  stack: Stack,
  monitor: Monitor,
  fault: FaultName,
  options: { duration: number; report?: string },
): Promise<number> {
  const faulted = stack.replicas.length - 1;
  const [faultAt, healAt] = [Math.round(options.duration * 0.3), Math.round(options.duration * 0.6)];
  let injected = false;
  let healed = false;
  for (let tick = 1; ; tick += 1) {
    await new Promise((resolve) => setTimeout(resolve, 1000 * tick - (monitor.samples.at(-1)?.t ?? 0) * 1000));
    const sample = await monitor.sample();
    process.stdout.write(`${renderPlain(sample)}\n`);
    if (!injected && sample.t >= faultAt) {
      injected = true;
      process.stdout.write(`demo: ${await inject(stack, fault, faulted)}\n`);
    }
    if (injected && !healed && sample.t >= healAt) {
      healed = true;
      process.stdout.write(`demo: ${await heal(stack, fault, faulted)}\n`);
    }
    if (sample.t >= options.duration) break;
  }
  stack.probe.stop();
  const probe = await stack.probe.done;
  const last = await monitor.sample();
  const dir =
    options.report ?? join(ROOT, 'reports', `demo-${fault}-${new Date().toISOString().replace(/[:.]/g, '-')}`);
  writeReport(dir, {
    scenario: FAULTS[fault].label,
    mode: stack.syncMode,
    faultedReplica: stack.replicas[faulted]!.id,
    durationSeconds: options.duration,
    faultAt,
    healAt,
    samples: monitor.samples,
    probe,
    resources: stack.resources(),
    replicas: last.replicas.map((r, i) => ({
      replica: r.replica,
      missed: r.missed,
      staleService: r.staleService,
      staleProbe: probe.replicas[i]?.stale ?? 0,
      maxStaleWindowSeconds: probe.replicas[i]?.maxStaleWindowSeconds ?? 0,
      probeErrors: probe.replicas[i]?.errors ?? 0,
    })),
  });
  process.stdout.write(`demo: report written to ${dir} (report.md, report.html, summary.json)\n`);
  return 0;
}

const KEY_FAULTS: Record<string, FaultName> = {
  k: 'kill',
  p: 'pause',
  c: 'cut',
  R: 'restart-redis',
  x: 'crash',
  g: 'garbage',
  f: 'failover',
};
const KEY_HEALS: Record<string, FaultName> = { r: 'kill', u: 'pause', h: 'cut', b: 'failover' };

/** The live view: redrawn every second; keys inject and heal faults; q or Ctrl-C stops everything. */
async function interactive(stack: Stack, monitor: Monitor, urls: string[]): Promise<number> {
  const tty = process.stdout.isTTY === true && process.stdin.isTTY === true;
  const state: ViewState = {
    selected: stack.replicas.length - 1,
    events: [],
    urls: tty ? urls.slice(-1) : [],
    mode: stack.syncMode,
  };
  const log = (text: string) => state.events.push({ t: monitor.samples.at(-1)?.t ?? 0, text });
  let redisDown = false;
  let quit: () => void = () => undefined;
  const done = new Promise<void>((resolve) => (quit = resolve));

  const onKey = async (key: string) => {
    if (key === 'q' || key === '\u0003') return quit();
    if (/^[1-9]$/.test(key) && Number(key) <= stack.replicas.length) state.selected = Number(key) - 1;
    try {
      if (key === 'm') {
        const next = SYNC_MODES[(SYNC_MODES.indexOf(stack.syncMode) + 1) % SYNC_MODES.length]!;
        log(`switching every replica to ${next} (rolling restart)...`);
        await stack.setMode(next);
        state.mode = next;
        log(`now in ${next} mode`);
      } else if (key === 'R') {
        log(redisDown ? await heal(stack, 'restart-redis', 0) : await inject(stack, 'restart-redis', 0));
        redisDown = !redisDown;
      } else if (KEY_FAULTS[key]) log(await inject(stack, KEY_FAULTS[key], state.selected));
      else if (KEY_HEALS[key]) log(await heal(stack, KEY_HEALS[key], state.selected));
    } catch (error) {
      log(`failed: ${(error as Error).message}`);
    }
  };
  process.stdin.setEncoding('utf8');
  if (tty) process.stdin.setRawMode(true);
  process.stdin.on('data', (chunk: string) => {
    for (const key of tty ? [...chunk] : chunk.trim().split(/\s+/)) void onKey(key);
  });
  process.stdin.resume();

  const timer = setInterval(async () => {
    const sample = await monitor.sample();
    state.sample = sample;
    if (tty) {
      const [width, height] = [process.stdout.columns || 80, process.stdout.rows || 24];
      process.stdout.write(`\x1b[H\x1b[2J${renderView(state, width, height).join('\n')}`);
    } else process.stdout.write(`${renderPlain(sample)}\n`);
  }, 1000);
  await done;
  clearInterval(timer);
  if (tty) {
    process.stdin.setRawMode(false);
    process.stdout.write('\x1b[2J\x1b[H');
  }
  process.stdin.pause();
  return 0;
}

main()
  .then((code) => process.exit(code))
  .catch((error) => {
    process.stderr.write(`demo failed: ${(error as Error).stack ?? error}\n`);
    process.exit(1);
  });
