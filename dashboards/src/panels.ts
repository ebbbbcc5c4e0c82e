import type * as cog from '@grafana/grafana-foundation-sdk/cog';
import { ReduceDataOptionsBuilder } from '@grafana/grafana-foundation-sdk/common';
import type * as dashboard from '@grafana/grafana-foundation-sdk/dashboard';
import { PanelBuilder as HeatmapPanel } from '@grafana/grafana-foundation-sdk/heatmap';
import { DataqueryBuilder, PromQueryFormat } from '@grafana/grafana-foundation-sdk/prometheus';
import { PanelBuilder as StatPanel } from '@grafana/grafana-foundation-sdk/stat';
import { PanelBuilder as StateTimelinePanel } from '@grafana/grafana-foundation-sdk/statetimeline';
import { PanelBuilder as TimeseriesPanel } from '@grafana/grafana-foundation-sdk/timeseries';

/** Every panel queries the datasource chosen in the `datasource` variable. */
// biome-ignore lint/suspicious/noTemplateCurlyInString: Grafana's variable syntax, not a template string.
export const DATASOURCE = { type: 'prometheus', uid: '${datasource}' };
/** Series selector for the replicas chosen in the `replica` variable. */
export const REPLICA_SELECTOR = 'replica=~"$replica"';

export interface Query {
  expr: string;
  legend?: string;
  /** Attach exemplars (trace ids) to the series. */
  exemplars?: boolean;
}

export interface PanelSpec {
  title: string;
  /** What the panel shows, and what it shows during each fault: the user reads this in the (i). */
  description: string;
  unit: string;
  queries: Query[];
  width: number;
  height?: number;
}

type Builder = cog.Builder<dashboard.Panel> & { gridPos(gridPos: dashboard.GridPos): unknown; id(id: number): unknown };
interface Common {
  title(t: string): unknown;
  description(d: string): unknown;
  unit(u: string): unknown;
  datasource(d: { type: string; uid: string }): unknown;
  withTarget(t: cog.Builder<cog.Dataquery>): unknown;
}

function target(query: Query, refId: string, heatmap = false) {
  const builder = new DataqueryBuilder()
    .expr(query.expr)
    .refId(refId)
    .legendFormat(query.legend ?? '__auto')
    .datasource(DATASOURCE)
    .range();
  if (heatmap) builder.format(PromQueryFormat.Heatmap);
  if (query.exemplars) builder.exemplar(true);
  return builder;
}

function fill<T extends Common>(panel: T, spec: PanelSpec, heatmap = false): T {
  panel.title(spec.title);
  panel.description(spec.description);
  panel.unit(spec.unit);
  panel.datasource(DATASOURCE);
  for (const [i, query] of spec.queries.entries())
    panel.withTarget(target(query, String.fromCharCode(65 + i), heatmap));
  return panel;
}

export const timeseries = (spec: PanelSpec): Builder => fill(new TimeseriesPanel(), spec).min(0).fillOpacity(10);
export const stat = (spec: PanelSpec): Builder =>
  fill(new StatPanel(), spec).reduceOptions(new ReduceDataOptionsBuilder().calcs(['lastNotNull']));
export const stateTimeline = (spec: PanelSpec): Builder => fill(new StateTimelinePanel(), spec).mergeValues(true);
export const heatmap = (spec: PanelSpec): Builder =>
  fill(new HeatmapPanel(), spec, true).calculate(false).exemplarsColor('rgba(255,0,255,0.7)');

export interface LaidOut {
  spec: PanelSpec;
  build: (spec: PanelSpec) => Builder;
}
