import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { ROOT } from '../../local-stack/processes';

/**
 * The layers point one way: cache core ← sync ← books ← http ← wiring; telemetry is a leaf the
 * wiring connects through observers; chaos wraps the transport. Checked on every import.
 */
const ALLOWED: Record<string, string[]> = {
  cache: [],
  telemetry: [],
  sync: ['cache'],
  books: ['cache', 'sync'],
  http: ['books'],
  chaos: ['sync'],
  probe: ['telemetry', 'cli'],
  cli: [],
  wiring: ['cache', 'sync', 'books', 'http', 'telemetry', 'chaos'],
  main: ['wiring', 'http', 'chaos', 'telemetry', 'cli'],
};
/** npm packages a layer must not import (the cache core knows neither metrics nor Redis). */
const FORBIDDEN_PACKAGES: Record<string, string[]> = {
  cache: ['prom-client', 'ioredis', '@opentelemetry/api', 'pino'],
  sync: ['prom-client', 'mongoose'],
  books: ['prom-client', 'ioredis'],
  http: ['prom-client', 'ioredis', 'mongoose'],
};

const SRC = join(ROOT, 'service/src');
const files = (dir: string): string[] =>
  readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? files(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
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
