import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { ROOT } from '../../local-stack/processes';

/**
 * The layers point one way: the library (packages/core: cache core ← sync ← the synced cache) ←
 * books ← http ← wiring; telemetry is a leaf the wiring connects through observers; chaos wraps
 * the transport. The service reaches the library only through its published entry points.
 * Checked on every import.
 */
const ALLOWED: Record<string, string[]> = {
  telemetry: [],
  books: [],
  http: ['books'],
  chaos: [],
  probe: ['telemetry', 'cli'],
  cli: [],
  wiring: ['books', 'http', 'telemetry', 'chaos'],
  main: ['wiring', 'http', 'chaos', 'telemetry', 'cli'],
};
/** npm packages a layer must not import. */
const FORBIDDEN_PACKAGES: Record<string, string[]> = {
  books: ['prom-client', 'ioredis'],
  http: ['prom-client', 'ioredis', 'mongoose'],
};

const LIBRARY = 'packages/core';
const libraryManifest = JSON.parse(readFileSync(join(ROOT, LIBRARY, 'package.json'), 'utf8')) as {
  name: string;
  exports: Record<string, unknown>;
  dependencies: Record<string, string>;
  peerDependencies: Record<string, string>;
};
/** The specifiers a user of the library may import: its package name and its exports map's subpaths. */
const PUBLIC_ENTRIES = Object.keys(libraryManifest.exports)
  .filter((subpath) => subpath !== './package.json')
  .map((subpath) => (subpath === '.' ? libraryManifest.name : `${libraryManifest.name}/${subpath.slice(2)}`));
/** Inside the library: the cache core knows nothing of sync; only the Prometheus adapter knows prom-client. */
const LIBRARY_ALLOWED: Record<string, string[]> = {
  cache: [],
  sync: ['cache'],
  prometheus: ['cache', 'sync', 'root'],
  root: ['cache', 'sync', 'prometheus'],
};
const LIBRARY_FORBIDDEN = ['mongoose', 'koa', '@koa/router', 'pino', 'prom-client', 'mongodb'];

const SRC = join(ROOT, 'service/src');
const files = (dir: string): string[] =>
  readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.name === 'node_modules'
      ? []
      : e.isDirectory()
        ? files(join(dir, e.name))
        : e.name.endsWith('.ts')
          ? [join(dir, e.name)]
          : [],
  );
const layerOf = (file: string) => relative(SRC, file).split('/')[0]!.replace(/\.ts$/, '');
const importsOf = (file: string) =>
  [...readFileSync(file, 'utf8').matchAll(/^(?:import|export)\s[^;]*?from\s+'([^']+)'/gms)].map((m) => m[1]!);

describe('layers', () => {
  const sources = files(SRC);

  it('every file of service/src belongs to a known layer', () => {
    expect(sources.map(layerOf).filter((layer) => !(layer in ALLOWED))).toEqual([]);
  });

  it.each(Object.keys(ALLOWED))('%s imports only from the layers below it', (layer) => {
    const wrong: string[] = [];
    for (const file of sources.filter((f) => layerOf(f) === layer)) {
      for (const spec of importsOf(file)) {
        if (spec.startsWith('.')) {
          const target = join(file, '..', spec);
          if (!target.startsWith(SRC)) wrong.push(`${relative(ROOT, file)} -> ${spec} (outside service/src)`);
          else if (layerOf(target) !== layer && !ALLOWED[layer]!.includes(layerOf(target))) {
            wrong.push(`${relative(ROOT, file)} -> ${spec}`);
          }
        } else if ((FORBIDDEN_PACKAGES[layer] ?? []).some((p) => spec === p || spec.startsWith(`${p}/`))) {
          wrong.push(`${relative(ROOT, file)} -> ${spec}`);
        }
      }
    }
    expect(wrong).toEqual([]);
  });

  it('service/src reaches the library only through its published entry points', () => {
    const wrong = sources.flatMap((file) =>
      importsOf(file)
        .filter(
          (spec) =>
            (spec.startsWith(libraryManifest.name) && !PUBLIC_ENTRIES.includes(spec)) ||
            spec === `${libraryManifest.name}/testing` ||
            spec.includes('packages/'),
        )
        .map((spec) => `${relative(ROOT, file)} -> ${spec}`),
    );
    expect(wrong).toEqual([]);
    // The rule can fail: an internal file or the test-only entry would be refused.
    expect(PUBLIC_ENTRIES).toEqual([
      '@local-cache-sync/core',
      '@local-cache-sync/core/transport',
      '@local-cache-sync/core/prometheus',
      '@local-cache-sync/core/testing',
      '@local-cache-sync/core/wire',
    ]);
  });

  it('nothing outside the library reaches into its source: the service, its tests, the bench and the examples use its entry points', () => {
    const outside = ['service', 'bench', 'examples'].flatMap((dir) => files(join(ROOT, dir)));
    expect(outside.length).toBeGreaterThan(100);
    const wrong = outside.flatMap((file) =>
      importsOf(file)
        .filter((spec) => spec.includes('packages/core/src') || /^@local-cache-sync\/core\/(src|dist)\//.test(spec))
        .map((spec) => `${relative(ROOT, file)} -> ${spec}`),
    );
    expect(wrong).toEqual([]);
  });

  it('the library knows no books, Koa, mongoose, pino, nor (outside its adapter) prom-client, and imports only what it declares', () => {
    const librarySrc = join(ROOT, LIBRARY, 'src');
    const declared = new Set([
      ...Object.keys(libraryManifest.dependencies),
      ...Object.keys(libraryManifest.peerDependencies),
    ]);
    const wrong: string[] = [];
    for (const file of files(librarySrc)) {
      const rel = relative(librarySrc, file);
      const layer = rel.includes('/') ? rel.split('/')[0]! : rel === 'prometheus.ts' ? 'prometheus' : 'root';
      for (const spec of importsOf(file)) {
        if (spec.startsWith('.')) {
          const target = relative(librarySrc, join(file, '..', spec));
          const targetLayer = target.startsWith('..')
            ? 'outside'
            : target.includes('/')
              ? target.split('/')[0]!
              : 'root';
          if (targetLayer !== layer && !LIBRARY_ALLOWED[layer]!.includes(targetLayer)) wrong.push(`${rel} -> ${spec}`);
          continue;
        }
        if (spec.startsWith('node:')) continue;
        const name = spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0]!;
        const forbidden = LIBRARY_FORBIDDEN.includes(name) && !(name === 'prom-client' && layer === 'prometheus');
        if (forbidden || !declared.has(name) || name.startsWith('@opentelemetry/sdk')) wrong.push(`${rel} -> ${spec}`);
      }
    }
    expect(wrong).toEqual([]);
    expect(Object.keys(libraryManifest.dependencies).sort()).toEqual(['node-cache', 'zod']);
    expect(Object.keys(libraryManifest.peerDependencies).sort()).toEqual([
      '@opentelemetry/api',
      'ioredis',
      'prom-client',
    ]);
  });

  it('the local stack and the demo stay out of what a replica runs', () => {
    const local = files(join(ROOT, 'service/local-stack'));
    const wrong = local.flatMap((file) =>
      importsOf(file)
        .filter((spec) => spec.includes('/demo/') || spec.includes('/test/'))
        .map((spec) => `${relative(ROOT, file)} -> ${spec}`),
    );
    expect(wrong).toEqual([]);
    const build = JSON.parse(readFileSync(join(ROOT, 'tsconfig.build.json'), 'utf8')) as { include: string[] };
    expect(build.include).toEqual(['service/src/**/*.ts']);
  });
});
