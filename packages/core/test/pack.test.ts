import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const PACKAGE = join(__dirname, '..');
const ROOT = join(PACKAGE, '../..');
const npm = (args: string[], cwd: string) =>
  execFileSync('npm', args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 240_000 });
/** Runs node; a failure carries what the command printed (a type error's text, a stack). */
const node = (args: string[], cwd: string) => {
  try {
    return execFileSync(process.execPath, args, {
      cwd,
      encoding: 'utf8',
      env: { PATH: process.env.PATH, REDIS_URL: process.env.REDIS_URL },
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: 60_000,
    });
  } catch (error) {
    const { stdout, stderr } = error as { stdout?: string; stderr?: string };
    throw Object.assign(new Error(`${(error as Error).message}\n${stdout ?? ''}${stderr ?? ''}`.slice(0, 4000)), {
      stdout,
    });
  }
};

/** What every consumer does against the test server's Redis: two caches, a load, an announce, an eviction. */
const scenario = `
  const shared = { name: 'item', bus: { redis: process.env.REDIS_URL, channel: 'pack-' + process.pid }, sync: { mode: 'stream' } };
  const a = await createSyncedCache({ ...shared, replicaId: 'a' });
  const b = await createSyncedCache({ ...shared, replicaId: 'b' });
  const first = await b.getOrLoad('item:1', async () => ({ id: '1', version: 1 }));
  const second = await b.getOrLoad('item:1', async () => ({ id: '1', version: 1 }));
  await a.announce({ keys: ['item:1'], id: '1', version: 2, op: 'update' });
  const deadline = Date.now() + 10000;
  while (b.peek('item:1') !== undefined && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  console.log(JSON.stringify({ first: first.hit, second: second.hit, evicted: b.peek('item:1') === undefined }));
  await a.close();
  await b.close();
`;

/**
 * The package as users get it: `npm pack`, installed with its peer dependencies into an empty
 * folder, used from plain JavaScript (ESM and CommonJS) and type-checked from TypeScript.
 */
describe('the packed tarball, installed as users install it', () => {
  let dir: string;
  let tarball: string;
  let files: string[];

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'lcs-pack-'));
    const [packed] = JSON.parse(npm(['pack', '--json', '--pack-destination', dir], PACKAGE)) as {
      filename: string;
      size: number;
      files: { path: string }[];
    }[];
    tarball = join(dir, packed!.filename);
    files = packed!.files.map((f) => f.path);
    process.stdout.write(`packed ${packed!.filename}: ${packed!.size} bytes, ${files.length} files\n`);
    const versions = (name: string) =>
      (JSON.parse(readFileSync(join(ROOT, 'node_modules', name, 'package.json'), 'utf8')) as { version: string })
        .version;
    writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'consumer', private: true }));
    npm(
      [
        'install',
        '--no-audit',
        '--no-fund',
        '--prefer-offline',
        '--loglevel=error',
        tarball,
        `ioredis@${versions('ioredis')}`,
        `@opentelemetry/api@${versions('@opentelemetry/api')}`,
        `prom-client@${versions('prom-client')}`,
      ],
      dir,
    );
  }, 300_000);
  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('ships the build, its types, README and CHANGELOG, and no sources or tests', () => {
    expect(files).toEqual(expect.arrayContaining(['dist/index.js', 'dist/index.d.ts', 'README.md', 'CHANGELOG.md']));
    expect(files.filter((f) => f.startsWith('src/') || f.startsWith('test/') || f.endsWith('.test.js'))).toEqual([]);
  });

  it('works from an ES module', () => {
    writeFileSync(
      join(dir, 'consumer.mjs'),
      `import { createSyncedCache } from '@local-cache-sync/core';\n${scenario}`,
    );
    expect(JSON.parse(node(['consumer.mjs'], dir))).toEqual({ first: false, second: true, evicted: true });
  });

  it("runs the README's quick start as written (against the test server's Redis)", () => {
    const readme = readFileSync(join(PACKAGE, 'README.md'), 'utf8');
    const quickStart = /## Quick start\n\n```js\n([\s\S]*?)```/.exec(readme)![1]!;
    expect(quickStart.split('\n').length).toBeLessThanOrEqual(13);
    writeFileSync(
      join(dir, 'quick-start.mjs'),
      quickStart.replace("'redis://127.0.0.1:6379'", 'process.env.REDIS_URL'),
    );
    expect(node(['quick-start.mjs'], dir).trim()).toBe('1 false undefined');
  });

  it('works from CommonJS, with the Prometheus adapter, and refuses internal paths', () => {
    writeFileSync(
      join(dir, 'consumer.cjs'),
      `const { createSyncedCache } = require('@local-cache-sync/core');
const { registerSyncedCacheMetrics } = require('@local-cache-sync/core/prometheus');
const { Registry } = require('prom-client');
try { require('@local-cache-sync/core/dist/sync/envelope'); console.error('internal path resolved'); process.exit(3); }
catch (error) { if (error.code !== 'ERR_PACKAGE_PATH_NOT_EXPORTED') throw error; }
(async () => {
  const registry = new Registry();
  const metrics = registerSyncedCacheMetrics(registry, { cache: 'item' });
  const c = await createSyncedCache({ name: 'item', replicaId: 'm', bus: { redis: process.env.REDIS_URL, channel: 'pack-m-' + process.pid }, sync: { mode: 'pubsub' }, observers: [metrics.observer] });
  await c.getOrLoad('item:1', async () => ({ id: '1', version: 1 }));
  await c.getOrLoad('item:1', async () => ({ id: '1', version: 1 }));
  const text = await registry.metrics();
  await c.close();
  ${scenario}
  const hits = /cache_gets_total\\{cache="item",result="hit"\\} (\\d+)/.exec(text);
  console.log(JSON.stringify({ hitsCounted: hits ? Number(hits[1]) : text }));
})();`,
    );
    const out = execFileSync(process.execPath, ['consumer.cjs'], {
      cwd: dir,
      encoding: 'utf8',
      env: { PATH: process.env.PATH, REDIS_URL: process.env.REDIS_URL },
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: 60_000,
    });
    // The scenario's line, then the adapter's count of the one hit it made (its exposition if none).
    expect(
      out
        .trim()
        .split('\n')
        .map((line) => JSON.parse(line)),
    ).toEqual([{ first: false, second: true, evicted: true }, { hitsCounted: 1 }]);
  });

  it('type-checks a TypeScript consumer against the shipped declarations (and rejects a wrong one)', () => {
    const tsc = join(ROOT, 'node_modules/typescript/bin/tsc');
    const options = [
      '--noEmit',
      '--strict',
      '--module',
      'node16',
      '--moduleResolution',
      'node16',
      '--target',
      'es2022',
    ];
    const typed = `import { createSyncedCache, type Loaded, type SyncedCacheObserver } from '@local-cache-sync/core';
import { registerSyncedCacheMetrics } from '@local-cache-sync/core/prometheus';
import { MemoryBus } from '@local-cache-sync/core/testing';
interface Note { id: string; version: number; text: string }
export async function main(): Promise<Loaded<Note>> {
  const observer: SyncedCacheObserver<Note> = { onMissed: (count: number, origin: string) => void [count, origin] };
  const cache = await createSyncedCache<Note>({ name: 'note', bus: { transport: new MemoryBus().transport() }, observers: [observer] });
  void registerSyncedCacheMetrics;
  return cache.getOrLoad('note:1', async () => ({ id: '1', version: 1, text: 'x' }));
}
`;
    writeFileSync(join(dir, 'consumer.ts'), typed);
    node([tsc, ...options, '--types', 'node', '--typeRoots', join(ROOT, 'node_modules/@types'), 'consumer.ts'], dir);
    writeFileSync(join(dir, 'wrong.ts'), `${typed}\nexport const wrong = main().then((r) => r.value?.title);\n`);
    let output = '';
    try {
      node([tsc, ...options, '--types', 'node', '--typeRoots', join(ROOT, 'node_modules/@types'), 'wrong.ts'], dir);
    } catch (error) {
      output = String((error as { stdout?: string }).stdout);
    }
    expect(output).toMatch(/Property 'title' does not exist/);
  });
});
