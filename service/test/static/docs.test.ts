import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { ROOT } from '../../local-stack/processes';
import { CONFIG_HELP, configDefaults } from '../../src/wiring/config';

const read = (path: string) => readFileSync(join(ROOT, path), 'utf8');
const DOCS = [
  'README.md',
  ...readdirSync(join(ROOT, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .map((f) => `docs/${f}`),
  'packages/core/README.md',
  'packages/core/CHANGELOG.md',
  'examples/node-http/README.md',
];
const walk = (dir: string): string[] =>
  readdirSync(join(ROOT, dir), { withFileTypes: true }).flatMap((e) =>
    e.name === 'node_modules' ? [] : e.isDirectory() ? walk(`${dir}/${e.name}`) : [`${dir}/${e.name}`],
  );

/** GitHub's anchor for a heading. */
const slug = (heading: string) =>
  heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, '')
    .replace(/\s/g, '-');
const anchorsOf = (markdown: string) =>
  new Set([...markdown.matchAll(/^#{1,6}\s+(.+)$/gm)].map((m) => slug(m[1]!.replace(/`/g, ''))));

const makeTargets = new Set([...read('Makefile').matchAll(/^([a-z][a-z0-9-]*):/gm)].map((m) => m[1]!));

/** Every environment variable something here reads: the replica's, the make targets', the bench's, compose's. */
function knownVariables(): Set<string> {
  const known = new Set<string>(Object.keys(CONFIG_HELP));
  const sources = [
    ...walk('service').filter((f) => f.endsWith('.ts')),
    ...walk('bench').filter((f) => f.endsWith('.ts')),
    ...walk('examples').filter((f) => /\.(ts|mjs)$/.test(f)),
    'Makefile',
    'docker-compose.yml',
    'scripts/deps.sh',
  ];
  for (const file of sources) {
    const text = read(file);
    for (const m of text.matchAll(/\b(?:process\.env|env)\.([A-Z][A-Z0-9_]+)/g)) known.add(m[1]!);
    for (const m of text.matchAll(/\$\(([A-Z][A-Z0-9_]+)\)/g)) known.add(m[1]!);
    for (const m of text.matchAll(/^\s+([A-Z][A-Z0-9_]+): /gm)) if (file === 'docker-compose.yml') known.add(m[1]!);
  }
  // Constants the library exports (they look like variables, and are named in its docs).
  for (const file of walk('packages/core/src'))
    for (const m of read(file).matchAll(/^export const ([A-Z][A-Z0-9_]+)/gm)) known.add(m[1]!);
  // OpenTelemetry's own variables, read by its SDK.
  for (const name of [
    'OTEL_SERVICE_NAME',
    'OTEL_TRACES_SAMPLER',
    'OTEL_TRACES_SAMPLER_ARG',
    'OTEL_SDK_DISABLED',
    'OTEL_BSP_*',
  ])
    known.add(name);
  return known;
}

describe('README and docs', () => {
  it('README stays short and opens with what this is and the two commands', () => {
    const readme = read('README.md');
    expect(readme.split('\n').length).toBeLessThanOrEqual(155);
    const firstTwenty = readme.split('\n').slice(0, 20).join('\n');
    expect(firstTwenty).toMatch(/Redis/);
    expect(readme).toContain('make up');
    expect(readme).toContain('make demo');
    expect(readme).toContain('make test');
    expect(readme).not.toMatch(/\bissue \d|\.\.\/shared|design\.md|\bthe seed\b/i);
  });

  it.each(DOCS)('%s: every relative link and anchor resolves', (doc) => {
    const broken: string[] = [];
    for (const [, target] of read(doc).matchAll(/\]\(([^)\s]+)\)/g)) {
      if (/^(https?:|mailto:)/.test(target!)) continue;
      const [path, anchor] = target!.split('#') as [string, string | undefined];
      const file = path ? join(dirname(join(ROOT, doc)), path) : join(ROOT, doc);
      if (!existsSync(file)) broken.push(target!);
      else if (anchor && file.endsWith('.md') && !anchorsOf(readFileSync(file, 'utf8')).has(anchor))
        broken.push(target!);
    }
    expect(broken).toEqual([]);
  });

  it.each(DOCS)('%s: every make target it names exists', (doc) => {
    const text = read(doc);
    const inCode = [...text.matchAll(/^```[a-z]*\n([\s\S]*?)^```/gm)].flatMap((m) =>
      [...m[1]!.matchAll(/(?:^|;\s*)make ([a-z][a-z0-9-]*)/gm)].map((c) => c[1]!),
    );
    const named = [...[...text.matchAll(/`make ([a-z][a-z0-9-]*)/g)].map((m) => m[1]!), ...inCode];
    // The README walks through the targets; other docs may name none.
    expect({ doc, named: named.length > 5 || doc !== 'README.md' }).toEqual({ doc, named: true });
    // The library's own docs speak npm, never the reference project's make targets.
    // other branch: the project's docs may name make targets; the next line holds each to the Makefile.
    if (doc.startsWith('packages/')) expect(named).toEqual([]);
    expect(named.filter((t) => !makeTargets.has(t))).toEqual([]);
  });

  it.each(DOCS)('%s: every environment variable it names is read by something', (doc) => {
    const known = knownVariables();
    const named = new Set([...read(doc).matchAll(/\b([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+_?\*?)/g)].map((m) => m[1]!));
    expect([...named].filter((name) => !known.has(name))).toEqual([]);
  });

  it('docs/configuration.md lists every variable with its default, and nothing else', () => {
    const rows = [...read('docs/configuration.md').matchAll(/^\| `([A-Z_]+)` \| (`[^`]*`|unset) \|/gm)];
    const defaults = configDefaults();
    expect(rows.map((r) => r[1])).toEqual(Object.keys(CONFIG_HELP));
    for (const [, name, value] of rows) {
      expect([name, value]).toEqual([
        name,
        defaults[name as keyof typeof defaults] ? `\`${defaults[name as keyof typeof defaults]}\`` : 'unset',
      ]);
    }
  });

  it("docs/architecture.md's file table is the tree", () => {
    const listed = [...read('docs/architecture.md').matchAll(/^\| `([^`]+\.ts)` \|/gm)].map((m) => m[1]!).sort();
    const tree = [
      'packages/core/src',
      'service/src',
      'service/local-stack',
      'service/demo',
      'bench',
      'dashboards/src',
      'scripts',
    ]
      .flatMap(walk)
      .filter((f) => f.endsWith('.ts'))
      .sort();
    expect(listed).toEqual(tree);
  });

  it("the example's size, as the READMEs state it, is its size", () => {
    const lines = read('examples/node-http/server.mjs').trimEnd().split('\n').length;
    const stated = [
      ...read('packages/core/README.md').matchAll(/service in (\d+) lines/g),
      ...read('examples/node-http/README.md').matchAll(/`server\.mjs` \((\d+) lines\)/g),
    ].map((m) => Number(m[1]));
    expect(stated).toEqual([lines, lines]);
  });

  it('every file README names exists', () => {
    const named = [...read('README.md').matchAll(/`((?:service|bench|docs|dashboards|prometheus|grafana)\/[^`\s]+)`/g)];
    expect(named.map((m) => m[1]!).filter((p) => !existsSync(join(ROOT, p)))).toEqual([]);
    expect(relative(ROOT, ROOT)).toBe('');
  });
});
