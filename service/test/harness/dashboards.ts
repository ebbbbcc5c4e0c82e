import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { ROOT } from '../../local-stack/processes';

export interface PanelQuery {
  dashboard: string;
  panel: string;
  row: string;
  type: string;
  unit?: string;
  description?: string;
  expr: string;
  exemplar: boolean;
  format?: string;
}

interface Panel {
  type: string;
  title: string;
  description?: string;
  fieldConfig?: { defaults?: { unit?: string } };
  targets?: { expr: string; exemplar?: boolean; format?: string }[];
}

export function committedDashboards(): {
  file: string;
  json: { uid: string; title: string; panels: Panel[]; templating: { list: { name: string; type: string }[] } };
}[] {
  const dir = join(ROOT, 'dashboards');
  return readdirSync(dir)
    .filter((file) => file.endsWith('.json'))
    .map((file) => ({ file, json: JSON.parse(readFileSync(join(dir, file), 'utf8')) }));
}

/** Every query of every panel of every committed dashboard, with the row it sits in. */
export function panelQueries(): PanelQuery[] {
  const queries: PanelQuery[] = [];
  for (const { json } of committedDashboards()) {
    let row = '';
    for (const panel of json.panels) {
      if (panel.type === 'row') {
        row = panel.title;
        continue;
      }
      for (const target of panel.targets ?? []) {
        queries.push({
          dashboard: json.uid,
          panel: panel.title,
          row,
          type: panel.type,
          unit: panel.fieldConfig?.defaults?.unit,
          description: panel.description,
          expr: target.expr,
          exemplar: target.exemplar === true,
          format: target.format,
        });
      }
    }
  }
  return queries;
}

export { interpolate } from '../../demo/live-page';

const PROMQL_WORDS = new Set([
  'by',
  'without',
  'on',
  'ignoring',
  'group_left',
  'group_right',
  'bool',
  'and',
  'or',
  'unless',
  'offset',
  'inf',
  'nan',
]);

/** The metric names a PromQL expression selects (not functions, labels, strings, durations or $variables). */
export function metricNames(expr: string): string[] {
  const bare = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""')
    .replace(/\{[^}]*\}/g, '')
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, '')
    .replace(/\[[^\]]*\]/g, '')
    .replace(/\$\w+/g, '');
  const names = new Set<string>();
  for (const match of bare.matchAll(/(?<![\w.:])([a-zA-Z_:][a-zA-Z0-9_:]*)(?![\w:])(?!\s*\()/g)) {
    const name = match[1]!;
    if (!PROMQL_WORDS.has(name.toLowerCase()) && !/^\d/.test(name)) names.add(name);
  }
  return [...names];
}

/** The expressions of every alerting and recording rule, and the names the recording rules define. */
export function ruleFiles(): { exprs: string[]; recorded: Set<string> } {
  const exprs: string[] = [];
  const recorded = new Set<string>();
  const dir = join(ROOT, 'prometheus/rules');
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.yml'))) {
    const { groups } = parse(readFileSync(join(dir, file), 'utf8')) as {
      groups: { rules: { record?: string; expr: string }[] }[];
    };
    for (const rule of groups.flatMap((g) => g.rules)) {
      exprs.push(rule.expr);
      if (rule.record) recorded.add(rule.record);
    }
  }
  return { exprs, recorded };
}
