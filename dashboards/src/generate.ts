// Writes every dashboard to dashboards/<uid>.json (`npm run dashboards`); the tests fail if the
// committed files differ from what this produces.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { answerHelp } from '../../service/src/cli';
import { renderDashboards } from './render';

answerHelp(`usage: npm run dashboards
Writes every Grafana dashboard generated from dashboards/src to dashboards/<uid>.json
and to the Helm chart's copy (deploy/helm/local-cache-sync/dashboards/).
  --help   this text`);
// The Helm chart carries its own copy (a chart cannot read files outside its folder).
const CHART_DASHBOARDS = 'deploy/helm/local-cache-sync/dashboards';
for (const { file, json } of renderDashboards()) {
  writeFileSync(join(__dirname, '..', file), json);
  writeFileSync(join(__dirname, '../..', CHART_DASHBOARDS, file), json);
  console.log(`wrote dashboards/${file} and ${CHART_DASHBOARDS}/${file}`);
}
