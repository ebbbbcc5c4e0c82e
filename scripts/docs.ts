// `npm run docs`: rewrites the generated parts of docs/ from the code (the configuration table);
// service/test/static/docs.test.ts fails while they differ.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from '../service/local-stack/processes';
import { answerHelp } from '../service/src/cli';
import { CONFIG_HELP, configDefaults } from '../service/src/wiring/config';

answerHelp(`usage: npm run docs
Rewrites docs/configuration.md's table of variables from service/src/wiring/config.ts.
  --help   this text`);
const file = join(ROOT, 'docs/configuration.md');
const defaults = configDefaults();
const rows = Object.entries(CONFIG_HELP).map(([name, help]) => {
  const value = defaults[name as keyof typeof defaults];
  return `| \`${name}\` | ${value ? `\`${value}\`` : 'unset'} | ${help} |`;
});
const lines = readFileSync(file, 'utf8').split('\n');
const start = lines.findIndex((line) => line.startsWith('|---|')) + 1;
let end = start;
while (lines[end]?.startsWith('| `')) end += 1;
lines.splice(start, end - start, ...rows);
writeFileSync(file, lines.join('\n'));
console.log(`wrote ${rows.length} variables to docs/configuration.md`);
