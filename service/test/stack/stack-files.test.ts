import { spawn, spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { parse } from 'yaml';
import { renderDashboards } from '../../../dashboards/src/render';
import { cachedBinary, freePort, ROOT, startRedis, waitFor } from '../../local-stack/processes';
import { replicaUserArgs } from '../../local-stack/redis-acl';
import { COMPOSE_PUBSUB_LIMIT } from '../../local-stack/stack';
import { loadConfig, redisTopology } from '../../src/wiring/config';
import { committedDashboards, panelQueries } from '../harness/dashboards';

const read = (path: string) => readFileSync(join(ROOT, path), 'utf8');
const run = (command: string, args: string[], cwd = ROOT, env: NodeJS.ProcessEnv = process.env) => {
  const result = spawnSync(command, args, { cwd, encoding: 'utf8', env });
  if (result.error) throw result.error;
  return { status: result.status, output: `${result.stdout}${result.stderr}` };
};

/** Runs `test` in a copy of the Makefile and compose file, with `true` for docker compose. */
function inMakefileCopy(test: (dir: string, make: (...args: string[]) => ReturnType<typeof run>) => void): void {
  const dir = mkdtempSync(join(tmpdir(), 'lcs-make-'));
  try {
    for (const file of ['Makefile', 'docker-compose.yml']) copyFileSync(join(ROOT, file), join(dir, file));
    test(dir, (...args) => run('make', ['--no-print-directory', ...args, 'COMPOSE=true'], dir));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

type Service = {
  image?: string;
  build?: unknown;
  pull_policy?: string;
  healthcheck?: unknown;
  networks?: string[];
  depends_on?: Record<string, { condition: string }>;
  restart?: string;
  mem_limit?: string;
};

/** What `make up` writes to .env. */
const STACK_SECRETS = {
  SYNC_SIGNING_KEYS: 'k1:a-key-of-at-least-16-bytes',
  CHAOS_TOKEN: 'a-token-of-16-chars',
  REDIS_REPLICA_PASSWORD: 'a-redis-password',
};

describe('docker-compose.yml', () => {
  const compose = parse(read('docker-compose.yml'), { merge: true, maxAliasCount: 1000 }) as {
    services: Record<string, Service>;
  };
  const services = compose.services;

  it('is valid for docker-compose (config -q, no engine needed), with the secrets make up writes', () => {
    const env = { ...process.env, ...STACK_SECRETS };
    expect(run('docker-compose', ['-f', 'docker-compose.yml', 'config', '-q'], ROOT, env)).toEqual({
      status: 0,
      output: '',
    });
  });

  it('pins Redis past the Lua fixes, since the replicas may EVAL (7.4.6 fixed CVE-2025-49844 and three more)', () => {
    expect(read('docker-compose.yml')).toContain("'+eval'");
    const redisImages = Object.entries(services).filter(([, s]) => s.image?.startsWith('redis:'));
    expect(redisImages.length).toBeGreaterThan(0);
    for (const [name, { image }] of redisImages) {
      const [major, minor, patch] = image!.slice('redis:'.length).split('.').map(Number);
      expect([name, major, minor, patch! >= 6]).toEqual([name, 7, 4, true]);
    }
  });

  it('runs the Prometheus release the tests run: the 3.5 LTS line, built by make deps', () => {
    const tag = /^prom\/prometheus:v(\d+\.\d+\.\d+)$/.exec(services.prometheus!.image ?? '')?.[1];
    expect(tag).toMatch(/^3\.5\./);
    expect(read('scripts/deps.sh')).toContain(`PROMETHEUS_VERSION=${tag}\n`);
    for (const tool of ['prometheus', 'promtool'] as const) {
      expect(run(cachedBinary(tool), ['--version']).output).toContain(`version ${tag} `);
    }
  });

  it('keeps Grafana on its pinned plugins, and the anonymous viewer a viewer whose exemplar links still work', () => {
    const grafana = services.grafana as Service & { environment?: Record<string, string> };
    expect(grafana.environment?.GF_PLUGINS_PREINSTALL_AUTO_UPDATE).toBe('false');
    expect(grafana.environment?.GF_AUTH_ANONYMOUS_ORG_ROLE).toBe('Viewer');
    // Deprecated since Grafana 12: the exemplar's URL link needs no Explore.
    expect(grafana.environment?.GF_USERS_VIEWERS_CAN_EDIT).toBeUndefined();
  });

  it('calls MongoDB healthy only once it has a primary (the healthcheck script, run against stand-ins)', () => {
    const test = (services.mongo as Service & { healthcheck: { test: string[] } }).healthcheck.test;
    const script = test[test.indexOf('--eval') + 1]!;
    const exitCode = (state: 'new' | 'electing' | 'primary') => {
      let code: number | undefined;
      const rs = {
        status: () => {
          if (state === 'new') throw new Error('no replset config has been received');
          return { ok: 1 };
        },
        initiate: () => ({ ok: 1 }),
      };
      const db = { hello: () => ({ isWritablePrimary: state === 'primary' }) };
      new Function('rs', 'db', 'quit', script)(rs, db, (c: number) => {
        code ??= c;
      });
      return code;
    };
    expect([exitCode('new'), exitCode('electing'), exitCode('primary')]).toEqual([1, 1, 0]);
  });

  it('runs every replica under an init, not as PID 1', () => {
    for (const name of ['book-1', 'book-2', 'book-3', 'book-4']) {
      expect([name, (services[name] as Service & { init?: boolean }).init]).toEqual([name, true]);
    }
  });

  it('gives the replicas the least-privilege Redis user of docs/security.md, and connects them as it', () => {
    const redis = compose.services.redis as Service & { command: string[] };
    const user = redis.command.slice(redis.command.indexOf('--user'));
    expect(user).toEqual(
      replicaUserArgs(
        'book-channel',
        // biome-ignore lint/suspicious/noTemplateCurlyInString: compose's variable syntax, not a template string.
        '${REDIS_REPLICA_PASSWORD:?run make up, which writes a fresh Redis password to .env}',
      ),
    );
    expect(read('Makefile')).toContain('REDIS_URL=redis://book-replica:%s@redis:6379');
  });

  it('cuts a paused subscriber at the Pub/Sub buffer limit make demo uses too', () => {
    const redis = compose.services.redis as Service & { command: string[] };
    const limit = redis.command[redis.command.indexOf('--client-output-buffer-limit') + 1];
    expect(limit).toBe(`pubsub ${COMPOSE_PUBSUB_LIMIT}`);
    const node = (compose as unknown as { 'x-redis-node': { entrypoint: string[] } })['x-redis-node'];
    expect(node.entrypoint.join(' ')).toContain(`--client-output-buffer-limit 'pubsub ${COMPOSE_PUBSUB_LIMIT}'`);
  });

  it('runs the sentinel and cluster data nodes with the same user (their entrypoint, run here on redis-server)', async () => {
    const node = (compose as unknown as { 'x-redis-node': { entrypoint: string[] } })['x-redis-node'];
    const [shell, flag, script, argv0] = node.entrypoint;
    const port = await freePort();
    const dir = mkdtempSync(join(tmpdir(), 'lcs-node-'));
    // Compose turns $$ into $ before the shell sees it.
    const child = spawn(shell!, [flag!, script!.replaceAll('$$', '$'), argv0!, '--port', String(port), '--dir', dir], {
      env: { ...process.env, REDIS_REPLICA_PASSWORD: 'a-redis-password' },
      stdio: 'ignore',
    });
    const admin = new Redis({ port, lazyConnect: true, retryStrategy: () => 100 });
    admin.on('error', () => undefined);
    try {
      await waitFor(async () => (await admin.connect().then(() => true)) && admin.status === 'ready', {
        message: 'the node answers',
      });
      const rules = String(await admin.call('ACL', 'LIST'))
        .split(',')
        .find((u) => u.includes('book-replica'));
      const local = await startRedis(replicaUserArgs('book-channel', 'a-redis-password'));
      const reference = new Redis(local.url);
      const expected = String(await reference.call('ACL', 'LIST'))
        .split(',')
        .find((u) => u.includes('book-replica'));
      reference.disconnect();
      await local.destroy();
      const tokens = (line?: string) => line?.split(' ').sort();
      expect(tokens(rules)).toEqual(tokens(expected));
      expect(String(await admin.config('GET', 'client-output-buffer-limit'))).toContain('pubsub 262144 65536 5');
    } finally {
      admin.disconnect();
      child.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('keeps the Redis topology across make targets, and each one is a configuration the replica accepts', () => {
    inMakefileCopy((dir, make) => {
      const book2 = () => {
        // Without the harness' own REDIS_URL: compose would take the shell's value over .env's.
        const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('REDIS_')));
        const config = parse(run('docker-compose', ['-f', 'docker-compose.yml', 'config'], dir, env).output) as {
          services: Record<string, { environment: Record<string, string> }>;
        };
        return { env: config.services['book-2']!.environment, services: Object.keys(config.services) };
      };
      const expectations = {
        standalone: ['REDIS_URL', 'redis'],
        sentinel: ['REDIS_SENTINELS', 'redis-sentinel-3'],
        cluster: ['REDIS_CLUSTER_NODES', 'redis-cluster-init'],
      };
      for (const [topology, [variable, server]] of Object.entries(expectations)) {
        expect(make('up', `TOPOLOGY=${topology}`).status).toBe(0);
        expect(make('restart-replica', 'N=2').status).toBe(0);
        const { env, services } = book2();
        expect(services).toContain(server);
        const config = loadConfig(env);
        expect([topology, config[variable as 'REDIS_URL']]).toEqual([
          topology,
          expect.any(topology === 'standalone' ? String : Array),
        ]);
        expect(redisTopology(config, () => Buffer.alloc(0)).kind).toBe(topology);
      }
      const profiles = () => /^COMPOSE_PROFILES=(.*)$/m.exec(readFileSync(join(dir, '.env'), 'utf8'))?.[1];
      expect(profiles()).toBe('cluster');
      expect(make('up', 'TOPOLOGY=standalone').status).toBe(0);
      expect(profiles()).toBe(''); // the sentinel and cluster servers are not started
      expect(make('up', 'TOPOLOGY=bogus').status).not.toBe(0);
    });
  });

  it('make pause-replica freezes the replica, then fills its buffer until Redis cuts the subscriber (a real Redis, a real frozen subscriber)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lcs-pause-'));
    const redis = await startRedis(['--client-output-buffer-limit', `pubsub ${COMPOSE_PUBSUB_LIMIT}`]);
    const admin = new Redis(redis.port);
    const subscriber = spawn(
      process.execPath,
      [
        '-e',
        `const { Redis } = require(${JSON.stringify(require.resolve('ioredis'))});
         new Redis(${redis.port}, { connectionName: 'book-3:subscriber' }).subscribe('book-channel');`,
      ],
      { stdio: 'ignore' },
    );
    const connected = async () =>
      String(await admin.call('CLIENT', 'LIST', 'TYPE', 'pubsub')).includes(' name=book-3:subscriber ');
    try {
      await waitFor(connected, { message: 'the subscriber connected' });
      // Expected first: frozen, with 1 MB sent its way (minutes of the probe's traffic, four times
      // the 256 KB hard limit), Redis still keeps the subscriber: the socket buffers took it all.
      subscriber.kill('SIGSTOP');
      await waitFor(() => /^\d+ \(.*\) T/.test(readFileSync(`/proc/${subscriber.pid}/stat`, 'utf8')), {
        message: 'the subscriber stopped',
      });
      for (let n = 0; n < 200; n += 1) await admin.publish('book-channel', 'm'.repeat(5000));
      expect(await connected()).toBe(true);
      subscriber.kill('SIGCONT');

      // A stand-in for docker compose: pause stops the subscriber; exec runs the command here, its
      // redis-cli pointed at this Redis (in the container it is the node's own).
      mkdirSync(join(dir, 'bin'));
      mkdirSync(join(dir, 'scripts'));
      const redisCli = spawnSync('sh', ['-c', 'command -v redis-cli'], { encoding: 'utf8' }).stdout.trim();
      writeFileSync(join(dir, 'bin/redis-cli'), `#!/bin/sh\nexec ${redisCli} -p ${redis.port} "$@"\n`, { mode: 0o755 });
      const fake = join(dir, 'compose');
      writeFileSync(
        fake,
        `#!/usr/bin/env bash
case "$1" in
  pause) echo "$2" >> "${dir}/paused"; kill -STOP ${subscriber.pid};;
  exec) shift 3; PATH="${dir}/bin:$PATH" exec "$@";;
esac
`,
        { mode: 0o755 },
      );
      copyFileSync(join(ROOT, 'scripts/compose-pause.sh'), join(dir, 'scripts/compose-pause.sh'));
      writeFileSync(join(dir, '.env'), 'TOPOLOGY=standalone\n');
      const pause = (replica: string) =>
        new Promise<{ status: number | null; output: string }>((resolve) => {
          const child = spawn('bash', ['scripts/compose-pause.sh', replica], {
            cwd: dir,
            env: { ...process.env, COMPOSE: fake },
          });
          let output = '';
          child.stdout.on('data', (chunk) => (output += chunk));
          child.stderr.on('data', (chunk) => (output += chunk));
          child.once('exit', (status) => resolve({ status, output }));
        });
      expect((await pause('book-9; rm -rf /')).status).toBe(2);
      const paused = await pause('book-3');
      expect(paused).toEqual({ status: 0, output: expect.stringContaining("Redis cut book-3's subscriber") });
      expect(readFileSync(join(dir, 'paused'), 'utf8')).toBe('book-3\n');
      expect(await connected()).toBe(false);
    } finally {
      subscriber.kill('SIGKILL');
      admin.disconnect();
      await redis.destroy();
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);

  it('make failover kills the master the Sentinels name, or the master of the channel slot (canned answers)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'lcs-failover-'));
    try {
      // A stand-in for docker compose: redis-cli answers from files, kills are recorded; node 1 is dead.
      const fake = join(dir, 'compose');
      writeFileSync(
        fake,
        `#!/usr/bin/env bash
case "$1" in
  exec) service=$3; shift 6
    [ "$service" = redis-cluster-1 ] && exit 1
    case "$*" in
      "SENTINEL get-master-addr-by-name mymaster") printf 'redis-replica\n6379\n';;
      "CLUSTER KEYSLOT book-channel") echo 13562;;
      "CLUSTER NODES") cat "${dir}/nodes";;
    esac;;
  kill) echo "$4" >> "${dir}/killed";;
esac
`,
        { mode: 0o755 },
      );
      writeFileSync(
        join(dir, 'nodes'),
        [
          'a1 10.0.0.2:6379@16379,redis-cluster-1 master,fail - 0 0 1 disconnected',
          'a2 10.0.0.3:6379@16379,redis-cluster-2 master - 0 0 2 connected 5461-10922',
          'a3 10.0.0.4:6379@16379,redis-cluster-3 myself,master - 0 0 3 connected 10923-12000 12001-16383',
          'a4 10.0.0.5:6379@16379,redis-cluster-4 slave a3 0 0 3 connected',
          'a6 10.0.0.7:6379@16379,redis-cluster-6 master - 0 0 7 connected 0-5460',
          '',
        ].join('\n'),
      );
      const failover = (topology: string) => {
        writeFileSync(join(dir, '.env'), `TOPOLOGY=${topology}\n`);
        mkdirSync(join(dir, 'scripts'), { recursive: true });
        copyFileSync(join(ROOT, 'scripts/compose-failover.sh'), join(dir, 'scripts/compose-failover.sh'));
        return spawnSync('bash', ['scripts/compose-failover.sh'], {
          cwd: dir,
          env: { ...process.env, COMPOSE: fake },
          encoding: 'utf8',
        });
      };
      const sentinel = failover('sentinel');
      expect({ status: sentinel.status, out: sentinel.stdout + sentinel.stderr }).toMatchObject({ status: 0 });
      expect(failover('cluster').status).toBe(0);
      expect(readFileSync(join(dir, 'killed'), 'utf8')).toBe('redis-replica\nredis-cluster-3\n');
      expect(failover('standalone').status).toBe(2);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('keeps the sync mode across make targets: a later recreate uses the mode last asked for', () => {
    // What each target leaves in .env is what any recreate (make restart-replica, compose up) will use.
    inMakefileCopy((dir, make) => {
      const modeOfBook2 = () => {
        const config = run('docker-compose', ['-f', 'docker-compose.yml', 'config'], dir);
        return /book-2:[\s\S]*?SYNC_MODE: (\S+)/.exec(config.output)?.[1];
      };
      expect(make('up', 'SYNC_MODE=stream').status).toBe(0);
      expect(modeOfBook2()).toBe('stream');
      expect(make('restart-replica', 'N=2').status).toBe(0);
      expect(modeOfBook2()).toBe('stream');
      expect(make('sync-mode', 'MODE=pubsub-flush').status).toBe(0);
      expect(make('up').status).toBe(0);
      expect(modeOfBook2()).toBe('pubsub-flush');
      expect(make('up', 'SYNC_MODE=bogus').status).not.toBe(0);
      expect(modeOfBook2()).toBe('pubsub-flush');
    });
  });

  it('refuses to start replicas without a signing key (make up writes one to .env)', () => {
    const env = { ...process.env, ...STACK_SECRETS, SYNC_SIGNING_KEYS: '' };
    // From an empty project folder, so that a .env left by a local `make up` is not read.
    const empty = mkdtempSync(join(tmpdir(), 'lcs-compose-'));
    const args = ['-f', join(ROOT, 'docker-compose.yml'), '--project-directory', empty, 'config', '-q'];
    const result = run('docker-compose', args, ROOT, env);
    rmSync(empty, { recursive: true, force: true });
    expect(result.status).not.toBe(0);
    expect(result.output).toContain('run make up, which writes a fresh signing key to .env');
    expect(read('.gitignore')).toMatch(/^\.env$/m);
  });

  it('has the stack the user flow needs, on the right networks', () => {
    expect(Object.keys(services).sort()).toEqual(
      [
        'book-1',
        'book-2',
        'book-3',
        'book-4',
        'grafana',
        'jaeger',
        'mongo',
        'probe',
        'prometheus',
        'redis',
        'redis-exporter',
        // TOPOLOGY=sentinel and TOPOLOGY=cluster (compose profiles)
        'redis-master',
        'redis-replica',
        'redis-sentinel-1',
        'redis-sentinel-2',
        'redis-sentinel-3',
        ...[1, 2, 3, 4, 5, 6].map((n) => `redis-cluster-${n}`),
        'redis-cluster-init',
      ].sort(),
    );
    for (const [name, service] of Object.entries(services).filter(
      ([n]) => n.startsWith('redis-') && n !== 'redis-exporter',
    )) {
      expect([name, service.networks]).toEqual([name, ['bus']]);
    }
    for (const n of [1, 2, 3, 4]) expect(services[`book-${n}`]!.networks!.sort()).toEqual(['bus', 'front']);
    for (const name of ['mongo', 'redis']) expect(services[name]!.networks).toEqual(['bus']);
    // Prometheus sees replicas only as users do: a partitioned replica (off bus) is still up for it.
    expect(services.prometheus!.networks).toEqual(['front']);
    expect(services['redis-exporter']!.networks!.sort()).toEqual(['bus', 'front']);
    // The probe reaches replicas as users do, never the bus.
    expect(services.probe!.networks).toEqual(['front']);
    const probeCommand = (services.probe as { command: string[] }).command.join(' ');
    for (const n of [1, 2, 3, 4]) expect(probeCommand).toContain(`http://book-${n}:3000`);
  });

  it('pins every image, limits memory, uses one restart policy, and gates start-up on health', () => {
    for (const [name, service] of Object.entries(services)) {
      expect([name, service.image]).toEqual([name, expect.stringMatching(/^[\w./-]+:[\w.-]+$/)]);
      expect(service.image).not.toMatch(/:latest$/);
      expect([name, service.mem_limit]).toEqual([name, expect.stringMatching(/^\d+[mg]$/)]);
      expect([name, service.restart]).toEqual([name, 'on-failure']);
      for (const [dependency, { condition }] of Object.entries(service.depends_on ?? {})) {
        // A dependency is waited for until healthy whenever it has a healthcheck.
        const expected = services[dependency]!.healthcheck ? 'service_healthy' : 'service_started';
        expect([name, dependency, condition]).toEqual([name, dependency, expected]);
      }
    }
    const withoutHealthcheck = Object.entries(services)
      .filter(([, s]) => !s.healthcheck)
      .map(([n]) => n);
    // Both images are minimal, with no shell tool to probe with; Prometheus' up{} watches them.
    expect(withoutHealthcheck.sort()).toEqual(['jaeger', 'redis-exporter']);
  });

  it('builds the service image once: book-1 alone builds it, make up builds it before starting, nothing pulls it', () => {
    const image = services['book-1']!.image;
    const users = Object.entries(services).filter(([, s]) => s.image === image);
    expect(users.map(([n]) => n).sort()).toEqual(['book-1', 'book-2', 'book-3', 'book-4', 'probe']);
    expect(
      Object.entries(services)
        .filter(([, s]) => s.build)
        .map(([n]) => n),
    ).toEqual(['book-1']);
    for (const [name, service] of users.filter(([n]) => n !== 'book-1'))
      expect([name, service.pull_policy]).toEqual([name, 'never']);
    const dryRun = spawnSync('make', ['-n', 'up'], { cwd: ROOT, encoding: 'utf8' }).stdout;
    const commands = dryRun.split('\n').filter((line) => /compose (build|up)/.test(line));
    expect(commands.map((line) => line.replace(/^.*?compose /, ''))).toEqual(['build book-1', 'up -d']);
  });

  it('builds replicas from a multi-stage, non-root Dockerfile with production dependencies only', () => {
    const dockerfile = read('Dockerfile');
    expect(dockerfile.match(/^FROM /gm)).toHaveLength(2);
    expect(dockerfile).toMatch(/npm prune --omit=dev/);
    expect(dockerfile).toMatch(/^USER node$/m);
    expect(dockerfile).toMatch(/^HEALTHCHECK /m);
    expect(dockerfile).not.toMatch(/FROM \S+:latest/);
  });

  it('names in the Makefile only services and networks that exist', () => {
    const makefile = read('Makefile');
    const named = new Set<string>();
    for (const match of makefile.matchAll(/\$\(COMPOSE\) \S+(?: -s \S+)? ([a-z][\w-]*)/g)) {
      if (!['up', 'down', 'ps', 'logs'].includes(match[1]!)) named.add(match[1]!);
    }
    if (/book-\$\(N\)/.test(makefile)) for (const n of [1, 2, 3, 4]) named.add(`book-${n}`);
    named.delete('-d');
    expect([...named].filter((name) => !services[name])).toEqual([]);
    expect(named).toContain('redis');
    const network = /^BUS_NETWORK := (\S+)$/m.exec(makefile)?.[1];
    expect(
      (parse(read('docker-compose.yml'), { maxAliasCount: 1000 }) as { networks: Record<string, { name: string }> })
        .networks.bus!.name,
    ).toBe(network);
    const help = run('make', ['help']).output;
    for (const target of [
      'up',
      'down',
      'logs',
      'ps',
      'kill-replica',
      'restart-replica',
      'pause-replica',
      'resume-replica',
      'partition',
      'heal',
      'restart-redis',
      'crash-before-publish',
    ]) {
      expect(help).toMatch(new RegExp(`make ${target}\\s+\\S`));
    }
  });
});

describe('prometheus/', () => {
  const ruleFileNames = () => readdirSync(join(ROOT, 'prometheus/rules')).filter((f) => f.endsWith('.yml'));
  const ruleTestFiles = () => readdirSync(join(ROOT, 'prometheus/tests')).filter((f) => f.endsWith('.test.yml'));

  it('passes promtool check config and check rules', () => {
    const config = run(cachedBinary('promtool'), ['check', 'config', 'prometheus.yml'], join(ROOT, 'prometheus'));
    expect(config.output).toContain('SUCCESS: prometheus.yml is valid');
    expect(config.status).toBe(0);
    const files = ruleFileNames();
    expect(files).toEqual(['alerts.yml', 'recording.yml', 'slo-freshness.yml']);
    const rules = run(
      cachedBinary('promtool'),
      ['check', 'rules', ...files.map((f) => `rules/${f}`)],
      join(ROOT, 'prometheus'),
    );
    expect(rules.status).toBe(0);
  });

  it('holds exactly the SLO rules Sloth generates from prometheus/slo/ (make slo-rules after editing the spec)', () => {
    const out = join(mkdtempSync(join(tmpdir(), 'sloth-')), 'slo-freshness.yml');
    const generated = run(cachedBinary('sloth'), [
      'generate',
      '--no-log',
      '-i',
      'prometheus/slo/freshness.yml',
      '-o',
      out,
    ]);
    expect(generated.status).toBe(0);
    expect(readFileSync(out, 'utf8')).toBe(read('prometheus/rules/slo-freshness.yml'));
    // One page and one ticket alert for each SLI and mode: 3 SLIs x 3 sync modes.
    const alerts = (
      parse(read('prometheus/rules/slo-freshness.yml')) as {
        groups: { rules: { alert?: string; labels?: { severity?: string; mode?: string } }[] }[];
      }
    ).groups
      .flatMap((g) => g.rules)
      .filter((r) => r.alert)
      .map((r) => `${r.alert}/${r.labels?.mode}/${r.labels?.severity}`);
    expect(alerts).toHaveLength(18);
    expect(new Set(alerts).size).toBe(18);
  });

  it('passes promtool test rules, with a firing and a silent case for every alert and severity', () => {
    const files = ruleTestFiles();
    expect(files).toEqual(['alerts.test.yml', 'slo.test.yml']);
    const result = run(
      cachedBinary('promtool'),
      ['test', 'rules', ...files.map((f) => `tests/${f}`)],
      join(ROOT, 'prometheus'),
    );
    expect(result.output).toContain('SUCCESS');
    expect(result.status).toBe(0);
    const alerts = new Set(
      ruleFileNames().flatMap((file) =>
        (
          parse(read(`prometheus/rules/${file}`)) as {
            groups: { rules: { alert?: string; labels?: { severity?: string } }[] }[];
          }
        ).groups.flatMap((g) => g.rules.filter((r) => r.alert).map((r) => `${r.alert}/${r.labels?.severity}`)),
      ),
    );
    type Expected = { exp_labels?: { severity?: string } };
    const tests = files.flatMap(
      (file) =>
        (
          parse(read(`prometheus/tests/${file}`)) as {
            tests: {
              alert_rule_test?: { alertname: string; exp_alerts: Expected[] }[];
              input_series: { series: string }[];
            }[];
          }
        ).tests,
    );
    for (const key of alerts) {
      const [alert, severity] = key.split('/') as [string, string];
      const cases = tests.filter((t) => t.alert_rule_test?.some((c) => c.alertname === alert));
      const evaluations = cases.flatMap((t) => t.alert_rule_test!.filter((c) => c.alertname === alert));
      const fires = evaluations.some((c) => c.exp_alerts.some((a) => a.exp_labels?.severity === severity));
      // Silent: an evaluation expecting nothing of this severity (none at all, or only the other
      // severity), or an input series that is not among the expected alerts.
      const silent =
        evaluations.some((c) => !c.exp_alerts.some((a) => a.exp_labels?.severity === severity)) ||
        cases.some(
          (t) =>
            t.input_series.length >
            t.alert_rule_test!.filter((c) => c.alertname === alert).flatMap((c) => c.exp_alerts).length,
        );
      expect([key, fires, silent]).toEqual([key, true, true]);
    }
  });

  it('scrapes the probe', () => {
    const config = parse(read('prometheus/prometheus.yml')) as {
      scrape_configs: { job_name: string; static_configs: { targets: string[] }[] }[];
    };
    expect(config.scrape_configs.find((job) => job.job_name === 'probe')?.static_configs[0]?.targets).toEqual([
      'probe:9464',
    ]);
  });

  it('scrapes every replica as its own target with a replica label', () => {
    const config = parse(read('prometheus/prometheus.yml')) as {
      scrape_configs: { job_name: string; static_configs: { targets: string[]; labels?: { replica?: string } }[] }[];
    };
    const book = config.scrape_configs.find((job) => job.job_name === 'book')!;
    expect(book.static_configs.map((c) => [c.targets, c.labels?.replica])).toEqual(
      [1, 2, 3, 4].map((n) => [[`book-${n}:3000`], `book-${n}`]),
    );
  });
});

describe('dashboards/', () => {
  it('are exactly what the TypeScript source generates (run `npm run dashboards` after editing it)', () => {
    const generated = renderDashboards();
    expect(generated.map((d) => d.file).sort()).toEqual(
      committedDashboards()
        .map((d) => d.file)
        .sort(),
    );
    for (const { file, json } of generated) {
      expect(read(`dashboards/${file}`)).toBe(json);
      expect(read(`deploy/helm/local-cache-sync/dashboards/${file}`)).toBe(json);
    }
  });

  it('follow the dashboard-linter habits', () => {
    for (const { json } of committedDashboards()) {
      expect(json.uid.length).toBeLessThanOrEqual(40);
      expect(json.templating.list.map((v) => [v.name, v.type])).toEqual([
        ['datasource', 'datasource'],
        ['replica', 'query'],
      ]);
    }
    const queries = panelQueries();
    expect(queries.length).toBeGreaterThan(20);
    for (const q of queries) {
      const where = `${q.panel}: ${q.expr}`;
      expect([where, q.unit]).toEqual([where, expect.any(String)]);
      expect([where, (q.description ?? '').length > 40]).toEqual([where, true]);
      // Counters and histogram buckets only under rate()/increase(), over $__rate_interval.
      for (const m of q.expr.matchAll(/(\w+)\(([a-z_:]+(?:_total|_bucket))\{/g)) {
        expect([where, m[1]]).toEqual([where, expect.stringMatching(/^(rate|increase)$/)]);
      }
      for (const m of q.expr.matchAll(/\[([^\]]+)\]/g)) expect([where, m[1]]).toEqual([where, '$__rate_interval']);
      // other branch: only a heatmap needs buckets as its format; other panels take Grafana's default.
      if (q.type === 'heatmap') expect([where, q.format]).toEqual([where, 'heatmap']);
    }
    expect(
      queries.some(
        (q) => q.exemplar && q.type === 'heatmap' && q.expr.includes('cache_invalidation_lag_seconds_bucket'),
      ),
    ).toBe(true);
  });
});

describe('grafana/', () => {
  it('runs the Grafana release whose dashboard schema the generated dashboard targets', () => {
    const compose = parse(read('docker-compose.yml'), { merge: true, maxAliasCount: 1000 }) as {
      services: { grafana: { image: string; healthcheck: { test: string[] } } };
    };
    const release = /^grafana\/grafana:(\d+\.\d+\.\d+)$/.exec(compose.services.grafana.image)?.[1];
    // Grafana publishes @grafana/schema with each release: the dashboard schema that release writes.
    const schemaPackage = join(ROOT, 'node_modules/@grafana/schema');
    const published = JSON.parse(readFileSync(join(schemaPackage, 'package.json'), 'utf8')) as { version: string };
    const types = readFileSync(join(schemaPackage, 'dist/cjs/raw/dashboard/x/types.gen.cjs'), 'utf8');
    const releaseSchema = Number(/schemaVersion: (\d+)/.exec(types)?.[1]);
    expect(published.version).toBe(release);
    for (const { file, json } of committedDashboards()) {
      expect([file, (json as unknown as { schemaVersion: number }).schemaVersion]).toEqual([file, releaseSchema]);
    }
    // Grafana's image installs curl on both of its bases; wget only comes with Alpine's busybox.
    expect(compose.services.grafana.healthcheck.test.slice(0, 2)).toEqual(['CMD', 'curl']);
  });

  it('provisions Prometheus with exemplar links to the Jaeger datasource, and a file provider for dashboards/', () => {
    const datasources = parse(read('grafana/provisioning/datasources/datasources.yaml')) as {
      datasources: {
        uid: string;
        type: string;
        jsonData?: { exemplarTraceIdDestinations?: { name: string; datasourceUid?: string; url?: string }[] };
      }[];
    };
    const byUid = Object.fromEntries(datasources.datasources.map((d) => [d.uid, d]));
    expect(byUid.prometheus?.type).toBe('prometheus');
    expect(byUid.jaeger?.type).toBe('jaeger');
    // A URL to the Jaeger UI (published on 16686) for every role, Explore for editors.
    const { services } = parse(read('docker-compose.yml'), { merge: true, maxAliasCount: 1000 }) as {
      services: { jaeger: { ports: string[] } };
    };
    const jaegerPort = services.jaeger.ports[0]!.split(':')[0];
    expect(byUid.prometheus?.jsonData?.exemplarTraceIdDestinations).toEqual([
      {
        name: 'trace_id',
        url: `http://localhost:${jaegerPort}/trace/$\${__value.raw}`,
        urlDisplayLabel: 'Open in Jaeger UI',
      },
      { name: 'trace_id', datasourceUid: 'jaeger' },
    ]);
    const providers = parse(read('grafana/provisioning/dashboards/dashboards.yaml')) as {
      providers: { type: string; options: { path: string } }[];
    };
    expect(providers.providers[0]).toMatchObject({ type: 'file', options: { path: '/var/lib/grafana/dashboards' } });
    const compose = read('docker-compose.yml');
    expect(compose).toContain('./dashboards:/var/lib/grafana/dashboards:ro');
    expect(compose).toContain(
      'GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH: /var/lib/grafana/dashboards/local-cache-sync.json',
    );
  });
});
