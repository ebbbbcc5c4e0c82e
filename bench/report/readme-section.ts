import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from '../../service/local-stack/processes';

/**
 * Replaces what stands between the README's `<!-- name:start (written by make name) -->` and
 * `<!-- name:end -->` markers with `text`: the command that measured the numbers writes them.
 */
export function writeReadmeSection(name: string, text: string): void {
  const file = join(ROOT, 'README.md');
  const readme = readFileSync(file, 'utf8');
  const [startMarker, endMarker] = [`<!-- ${name}:start (written by make ${name}) -->`, `<!-- ${name}:end -->`];
  const [start, end] = [readme.indexOf(startMarker), readme.indexOf(endMarker)];
  if (start < 0 || end < start) throw new Error(`README.md has no ${startMarker} ... ${endMarker} section`);
  writeFileSync(file, `${readme.slice(0, start + startMarker.length)}\n${text}\n${readme.slice(end)}`);
}

/**
 * One README line from a generated targets table (`| target | measured | met or **missed** |`):
 * how many were met, and each one missed with what was measured.
 */
export function targetsLine(prefix: string, markdown: string): string {
  const rows = [...markdown.matchAll(/^\| (.+) \| (.+) \| (met|\*\*missed\*\*) \|$/gm)].map((m) => ({
    target: m[1]!,
    measured: m[2]!,
    met: m[3] === 'met',
  }));
  const missed = rows.filter((r) => !r.met);
  return `${prefix}: ${rows.length - missed.length} of ${rows.length} targets met${
    missed.length === 0 ? '.' : `; missed: ${missed.map((r) => `${r.target} (${r.measured})`).join('; ')}.`
  }`;
}
