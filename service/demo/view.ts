import type { ReplicaSample, Sample } from './monitor';

export interface ViewState {
  sample?: Sample;
  selected: number;
  events: { t: number; text: string }[];
  /** The live page and Prometheus URLs, when running. */
  urls: string[];
  mode: string;
  /** `?` pressed: the column explanations instead of the events. */
  help?: boolean;
}

export const fmt = {
  ratio: (r?: number) => (r === undefined ? '-' : `${(r * 100).toFixed(0)}%`),
  seconds: (s?: number) => {
    if (s === undefined) return '-';
    if (s < 1) return `${(s * 1000).toFixed(s < 0.01 ? 2 : 1)}ms`;
    return `${s.toFixed(2)}s`;
  },
  clock: (t: number) => `${String(Math.floor(t / 60)).padStart(2, '0')}:${String(Math.floor(t % 60)).padStart(2, '0')}`,
};

/** The table's columns: title, width, and the group title above it (one source for header and rows). */
const COLUMNS: {
  title: string;
  width: number;
  group?: string;
  value: (r: ReplicaSample, selected: boolean) => string;
}[] = [
  { title: 'replica', width: 8, value: (r, selected) => `${selected ? '>' : ' '}${r.replica}` },
  { title: 'proc', width: 6, value: (r) => (r.paused ? 'PAUSED' : r.up ? 'up' : 'DOWN') },
  { title: 'sub', width: 4, value: (r) => (r.up ? r.subscriber : '?') },
  { title: 'hit', width: 4, value: (r) => fmt.ratio(r.hitRatio) },
  { title: 'p50', width: 7, group: 'lag, last 10 s', value: (r) => fmt.seconds(r.lagP50) },
  { title: 'p99', width: 7, group: 'lag, last 10 s', value: (r) => fmt.seconds(r.lagP99) },
  { title: 'missed', width: 7, group: 'service', value: (r) => String(r.missed) },
  { title: 'stale', width: 6, group: 'service', value: (r) => String(r.staleService) },
  { title: 'stale', width: 7, group: 'probe', value: (r) => String(r.staleProbe) },
  { title: 'now', width: 4, group: 'probe', value: (r) => String(r.staleNow) },
  { title: 'window', width: 8, group: 'probe', value: (r) => fmt.seconds(r.maxStaleWindow) },
];

const cell = (text: string, width: number, i: number) => (i < 3 ? text.padEnd(width) : text.padStart(width));

function groupLine(): string {
  let line = '';
  let at = 0;
  for (let i = 0; i < COLUMNS.length; ) {
    const group = COLUMNS[i]!.group;
    let width = COLUMNS[i]!.width;
    let j = i + 1;
    while (j < COLUMNS.length && group && COLUMNS[j]!.group === group) width += 1 + COLUMNS[j++]!.width;
    if (group) line = `${line.padEnd(at)}${`${group}`.padStart(Math.floor((width + group.length) / 2)).padEnd(width)}`;
    at += width + 1;
    i = j;
  }
  return line.trimEnd();
}

export const HEADER = [groupLine(), COLUMNS.map((c, i) => cell(c.title, c.width, i)).join(' ')];

function row(r: ReplicaSample, selected: boolean): string {
  return COLUMNS.map((c, i) => cell(c.value(r, selected), c.width, i))
    .join(' ')
    .trimEnd();
}

export const KEYS = 'keys: 1-9 pick  k kill  r restart  p pause past limit  s short pause  u resume';
export const KEYS2 = '      c cut  h heal  R Redis  x crash  g garbage  f/b master  m mode  q quit';
export const FOOTER = 'service: what the replica counts itself; probe: what a client saw.  ? explains';

/** What each column means, for `?`. */
export const HELP = [
  'proc    the process: up, PAUSED (SIGSTOP), DOWN (killed or not answering)',
  'sub     its Redis subscriber: up, down (cut off, or Redis gone)',
  'hit     cache hits over lookups in the last second',
  'lag     publish-to-evict lag, exact p50/p99 of its own samples over 10 s',
  "service missed: messages it knows it lost (a gap in a sender's sequence,",
  '        noticed when the next one arrives); stale: reads its own check caught',
  'probe   stale: stale reads the probe got from it; now: books it last read',
  '        stale there (served stale right now); window: longest a book stayed',
  '        stale there, open ones so far. The probe judges only its own writes,',
  '        acknowledged before it asked; the service, what the database held.',
  'A killed replica shows no stale reads: its cache died with it (cold restart).',
  'Press m for a safer mode and inject the same fault again. ? closes this.',
];

/** Splits text into lines of at most `width` characters, at spaces where it can. */
function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let rest = text;
  while (rest.length > width) {
    const space = rest.lastIndexOf(' ', width);
    const at = space > width / 2 ? space : width;
    lines.push(rest.slice(0, at));
    rest = rest.slice(at).trimStart();
  }
  return [...lines, rest];
}

/** The live view as text lines, at most `width` columns and `height` lines (80x24 by default). */
export function renderView(state: ViewState, width = 80, height = 24): string[] {
  const sample = state.sample;
  const lines = [
    `local-cache-sync demo  mode ${state.mode}  ${sample ? fmt.clock(sample.t) : '--:--'}`,
    ...state.urls,
    ...HEADER,
  ];
  for (const [i, r] of (sample?.replicas ?? []).entries()) lines.push(row(r, i === state.selected));
  lines.push('');
  const room = Math.max(1, height - lines.length - 3);
  if (state.help) lines.push(...HELP.slice(0, room));
  else {
    lines.push('recent events:');
    // Newest last; each event wraps under its text, and the oldest give way when room runs out.
    const shown: string[] = [];
    for (const event of [...state.events].reverse()) {
      const wrapped = wrap(event.text, width - 7).map(
        (part, n) => `${n === 0 ? ` ${fmt.clock(event.t)} ` : '       '}${part}`,
      );
      if (shown.length + wrapped.length > room - 1) break;
      shown.unshift(...wrapped);
    }
    lines.push(...shown);
  }
  while (lines.length < height - 3) lines.push('');
  lines.push(KEYS, KEYS2, FOOTER);
  return lines.slice(0, height).map((line) => (line.length > width ? `${line.slice(0, width - 1)}~` : line));
}

/** One line a second when stdout is not a terminal. */
export function renderPlain(sample: Sample): string {
  return `${fmt.clock(sample.t)} ${sample.replicas
    .map(
      (r) =>
        `${r.replica} ${r.paused ? 'paused' : r.up ? r.subscriber : 'down'} hit=${fmt.ratio(r.hitRatio)} lag99=${fmt.seconds(r.lagP99)} missed=${r.missed} stale svc=${r.staleService} probe=${r.staleProbe} now=${r.staleNow}`,
    )
    .join(' | ')}`;
}
