import { spawn, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { freePort, ROOT, waitFor } from '../../local-stack/processes';
import { processEnv, uniqueName } from '../harness/replicas';

interface Stage {
  instructions: { op: string; args: string }[];
}

/** The Dockerfile's stages, each instruction with its arguments (continuation lines joined). */
function dockerfileStages(): Stage[] {
  const text = readFileSync(join(ROOT, 'Dockerfile'), 'utf8').replace(/\\\n\s*/g, ' ');
  const stages: Stage[] = [];
  for (const line of text.split('\n').map((l) => l.trim())) {
    if (line === '' || line.startsWith('#')) continue;
    const [, op, args] = /^(\w+)\s+(.*)$/.exec(line)!;
    if (op === 'FROM') stages.push({ instructions: [] });
    stages.at(-1)!.instructions.push({ op: op!, args: args! });
  }
  return stages;
}

const sh = (command: string, cwd: string, env: NodeJS.ProcessEnv = process.env) => {
  const result = spawnSync('sh', ['-c', command], { cwd, env, encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`${command}: exit ${result.status}\n${result.stdout}${result.stderr}`);
};

/**
 * The replica image without Docker: the build stage's steps exactly as the Dockerfile lists them
 * (only the files it copies, npm ci, build, prune), the runtime stage's copies from it, then the
 * image's CMD started the way the container starts it, and its HEALTHCHECK run against it.
 */
describe('the replica image, built step by step as the Dockerfile says', () => {
  const work = mkdtempSync(join(tmpdir(), 'lcs-image-'));
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  it('builds from the copied files alone, prunes to production packages, and the runtime serves', async () => {
    const [build, runtime] = dockerfileStages() as [Stage, Stage];
    const dirs = { build: join(work, 'build'), runtime: join(work, 'runtime') };
    for (const dir of Object.values(dirs)) mkdirSync(dir);
    const copy = (from: string, sources: string[], dest: string, into: string) => {
      const target = dest === './' ? into : join(into, dest);
      for (const source of sources) {
        const to = dest.endsWith('/') ? join(target, source.split('/').pop()!) : target;
        mkdirSync(dirname(to), { recursive: true });
        cpSync(join(from, source), to, { recursive: true });
      }
    };
    for (const { op, args } of build.instructions) {
      if (op === 'COPY') {
        const parts = args.split(/\s+/);
        copy(ROOT, parts.slice(0, -1), parts.at(-1)!, dirs.build);
      } else if (op === 'RUN') sh(args, dirs.build);
      else expect(['FROM', 'WORKDIR']).toContain(op);
    }
    const env: Record<string, string> = {};
    let command: string[] = [];
    let healthcheck: string[] = [];
    for (const { op, args } of runtime.instructions) {
      if (op === 'COPY') {
        const parts = args.split(/\s+/).filter((part) => !part.startsWith('--'));
        const sources = parts.slice(0, -1).map((source) => source.replace(/^\/app\/?/, ''));
        copy(dirs.build, sources, parts.at(-1)!, dirs.runtime);
      } else if (op === 'ENV') {
        for (const [, name, value] of args.matchAll(/(\w+)=(\S+)/g)) env[name!] = value!;
      } else if (op === 'CMD') command = JSON.parse(args) as string[];
      else if (op === 'HEALTHCHECK') healthcheck = JSON.parse(args.replace(/^.*?CMD\s+/, '')) as string[];
    }

    // Production packages only: the compiler and the test tools are gone.
    for (const dev of ['typescript', 'jest', '@biomejs/biome', 'tsx'])
      expect([dev, existsSync(join(dirs.runtime, 'node_modules', dev))]).toEqual([dev, false]);
    expect(existsSync(join(dirs.runtime, 'service'))).toBe(false);
    // The library as its package ships it: the build, linked into node_modules, no sources.
    expect(existsSync(join(dirs.runtime, 'node_modules/@local-cache-sync/core/dist/index.js'))).toBe(true);
    expect(existsSync(join(dirs.runtime, 'packages/core/src'))).toBe(false);

    const port = await freePort();
    const [node, ...args] = command;
    expect(node).toBe('node');
    const child = spawn(process.execPath, args, {
      cwd: dirs.runtime,
      env: {
        PATH: process.env.PATH ?? '',
        ...env,
        ...processEnv('i', { PORT: String(port), HTTP_HOST: '127.0.0.1', REPLICA_ID: uniqueName('image') }),
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk) => (output += chunk));
    child.stderr.on('data', (chunk) => (output += chunk));
    try {
      await waitFor(async () => (await fetch(`http://127.0.0.1:${port}/readyz`).catch(() => undefined))?.ok, {
        timeoutMs: 30_000,
        message: `the image's CMD ready on ${port}: ${output.slice(-500)}`,
      });
      const [, ...check] = healthcheck;
      const health = spawnSync(process.execPath, check, {
        cwd: dirs.runtime,
        env: { ...env, PORT: String(port) },
        encoding: 'utf8',
      });
      expect(health.status).toBe(0);
      // The probe runs from the same image.
      const probe = spawnSync(process.execPath, ['dist/probe/main.js', '--help'], {
        cwd: dirs.runtime,
        encoding: 'utf8',
      });
      expect(probe.status).toBe(0);
    } finally {
      child.kill('SIGTERM');
      await new Promise((resolve) => child.once('exit', resolve));
    }
    expect(child.exitCode).toBe(0);
  }, 300_000);
});
