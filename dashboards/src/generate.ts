// Writes every dashboard to dashboards/<uid>.json (`npm run dashboards`); the tests fail if the
// committed files differ from what this produces.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { answerHelp } from '../../service/src/cli';
import { renderDashboards } from './render';

answerHelp(`usage: npm run dashboards
Writes every Grafana dashboard generated from dashboards/src to dashboards/<uid>.json.
  --help   this text`);
for (const { file, json } of renderDashboards()) {
  writeFileSync(join(__dirname, '..', file), json);
  console.log(`wrote dashboards/${file}`);
}
