import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import ts from 'typescript';
import { ROOT } from '../../local-stack/processes';

/**
 * The mechanical forms of a check that cannot fail, found in every test file:
 * - a test (`it`, `test`, and their `.each`) whose body calls no `expect`;
 * - `toBeGreaterThanOrEqual(0)`, which a count always passes;
 * - an `expect` inside an `if` with no `else` that checks too, unless a comment on the `if` says
 *   `other branch:` and why that branch is checked elsewhere.
 * Each allowed exception is listed below with its reason.
 */
const ALLOWED: Record<string, string> = {
  'packages/core/test/synced-cache.test.ts: counts the messages a replica missed while its subscriber was away':
    'its assertion is the wait: it fails unless the observer counts at least the 3 missed announcements',
  'packages/core/test/synced-cache.test.ts: tells observers given as class instances as well as plain objects':
    "its assertion is the wait: it fails unless the class instance's method hears the gap",
  'examples/node-http.test.ts: a subscriber held out while writes land counts them as missed on its return':
    'its assertion is the wait: it fails unless the missed count grows by the 5 writes sent while cut',
};

const TEST_DIRS = ['service/test', 'packages/core/test', 'examples'];
const testFiles = (dir: string): string[] =>
  readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.name === 'node_modules'
      ? []
      : e.isDirectory()
        ? testFiles(join(dir, e.name))
        : e.name.endsWith('.test.ts')
          ? [join(dir, e.name)]
          : [],
  );

interface Finding {
  file: string;
  line: number;
  rule: 'test without expect' | 'count at least 0' | 'expect behind an if';
  text: string;
}

const isTestCall = (call: ts.CallExpression): boolean => {
  // it(...), test(...), it.each(...)(...), (cond ? it : it.skip)(...), it.only(...)
  let callee: ts.Expression = call.expression;
  if (ts.isCallExpression(callee)) callee = callee.expression; // it.each(table)(name, fn)
  while (ts.isParenthesizedExpression(callee)) callee = callee.expression;
  if (ts.isConditionalExpression(callee)) callee = callee.whenTrue;
  if (ts.isPropertyAccessExpression(callee)) callee = callee.expression;
  return ts.isIdentifier(callee) && (callee.text === 'it' || callee.text === 'test');
};

const callsExpect = (node: ts.Node): boolean => {
  let found = false;
  const visit = (n: ts.Node) => {
    if (found) return;
    if (ts.isCallExpression(n) && ts.isIdentifier(n.expression) && n.expression.text === 'expect') found = true;
    else ts.forEachChild(n, visit);
  };
  visit(node);
  return found;
};

/** The findings of one file's source. */
function inspect(file: string, source: string): Finding[] {
  const sf = ts.createSourceFile(file, source, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
  const findings: Finding[] = [];
  const at = (node: ts.Node) => sf.getLineAndCharacterOfPosition(node.getStart(sf)).line + 1;
  const visit = (node: ts.Node) => {
    if (ts.isCallExpression(node) && isTestCall(node)) {
      const body = node.arguments.find((a) => ts.isArrowFunction(a) || ts.isFunctionExpression(a));
      const name = node.arguments[0];
      // A test's first argument is its title; anything else is another function that happens to be called `test`.
      const title = name && ts.isStringLiteralLike(name) ? name.text : undefined;
      if (title !== undefined && body && !callsExpect(body) && !(`${file}: ${title}` in ALLOWED))
        findings.push({ file, line: at(node), rule: 'test without expect', text: title });
    }
    if (
      ts.isCallExpression(node) &&
      ts.isPropertyAccessExpression(node.expression) &&
      node.expression.name.text === 'toBeGreaterThanOrEqual' &&
      node.arguments.length === 1 &&
      node.arguments[0]!.getText(sf) === '0'
    )
      findings.push({ file, line: at(node), rule: 'count at least 0', text: node.getText(sf) });
    if (ts.isIfStatement(node) && callsExpect(node.thenStatement)) {
      const elseChecks = node.elseStatement !== undefined && callsExpect(node.elseStatement);
      const comments = (ts.getLeadingCommentRanges(source, node.getFullStart()) ?? []).map((c) =>
        source.slice(c.pos, c.end),
      );
      if (!elseChecks && !comments.some((c) => /other branch:/i.test(c)))
        findings.push({ file, line: at(node), rule: 'expect behind an if', text: node.expression.getText(sf) });
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return findings;
}

describe('honest tests: no check that cannot fail, in its mechanical forms', () => {
  it('finds each form in a sample, and accepts the honest variants', () => {
    const sample = `
      it('asserts nothing', async () => { await run(); });
      it.each([1])('asserts nothing either %s', (n) => { run(n); });
      (ok ? it : it.skip)('nor this', () => undefined);
      it('counts', () => { expect(count()).toBeGreaterThanOrEqual(0); });
      it('hides', () => { if (state === 'down') { expect(read()).toBe('MISS'); } });
      it('checks both', () => { if (up) expect(a).toBe(1); else expect(b).toBe(2); });
      it('says why', () => {
        // other branch: the reconnect came first; the flush below checks that case.
        if (down) expect(a).toBe(1);
      });
      it('honest', () => { expect(count()).toBeGreaterThanOrEqual(1); });
    `;
    expect(inspect('sample.test.ts', sample).map((f) => [f.line, f.rule])).toEqual([
      [2, 'test without expect'],
      [3, 'test without expect'],
      [4, 'test without expect'],
      [5, 'count at least 0'],
      [6, 'expect behind an if'],
    ]);
  });

  it('holds for every test file of the repository', () => {
    const findings = TEST_DIRS.flatMap((dir) => testFiles(join(ROOT, dir))).flatMap((file) =>
      inspect(relative(ROOT, file), readFileSync(file, 'utf8')),
    );
    expect(findings.map((f) => `${f.file}:${f.line} ${f.rule}: ${f.text}`)).toEqual([]);
  });

  it('keeps its allow-list short, each entry with a reason', () => {
    expect(Object.keys(ALLOWED).length).toBeLessThanOrEqual(10);
    for (const reason of Object.values(ALLOWED)) expect(reason.length).toBeGreaterThan(20);
  });
});
