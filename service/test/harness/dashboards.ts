import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
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

/** What Grafana substitutes before a query reaches Prometheus, for a given scrape interval. */
export function interpolate(expr: string, rateInterval: string): string {
  return expr.replaceAll('$__rate_interval', rateInterval).replaceAll('$replica', '.*');
}
