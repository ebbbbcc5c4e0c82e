import type { ReplicaSample, Sample } from './monitor';

export interface ViewState {
  sample?: Sample;
  selected: number;
  events: { t: number; text: string }[];
  /** The Prometheus and probe URLs, when running. */
  urls: string[];
  mode: string;
}

const fmt = {
  ratio: (r?: number) => (r === undefined ? '   -' : `${(r * 100).toFixed(0).padStart(3)}%`),
  seconds: (s?: number) => {
    if (s === undefined) return '     -';
    if (s < 1) return `${(s * 1000).toFixed(s < 0.01 ? 2 : 1)}ms`.padStart(6);
    return `${s.toFixed(2)}s`.padStart(6);
  },
  clock: (t: number) => `${String(Math.floor(t / 60)).padStart(2, '0')}:${String(Math.floor(t % 60)).padStart(2, '0')}`,
};

const HEADER = 'replica  up   sub   hit  lag p99  missed  stale svc/probe  max window';

function row(r: ReplicaSample, selected: boolean): string {
  return [
    `${selected ? '>' : ' '}${r.replica.padEnd(7)}`,
    r.up ? 'yes ' : 'DOWN',
    r.subscriber.padEnd(4),
    fmt.ratio(r.hitRatio),
    ` ${fmt.seconds(r.lagP99)}`,
    String(r.missed).padStart(7),
    `${r.staleService}/${r.staleProbe}`.padStart(16),
    ` ${fmt.seconds(r.maxStaleWindow)}`.padStart(11),
  ].join(' ');
}

export const KEYS = 'keys: 1-9 pick  k kill  r restart  p pause  u resume  c cut  h heal';
export const KEYS2 = '      R restart Redis  x crash  g garbage  f/b kill/back master  m mode  q quit';

/** The live view as text lines, at most `width` columns and `height` lines (80x24 by default). */
export function renderView(state: ViewState, width = 80, height = 24): string[] {
  const sample = state.sample;
  const lines = [
    `local-cache-sync demo  mode ${state.mode}  ${sample ? fmt.clock(sample.t) : '--:--'}`,
    ...state.urls,
    '',
    HEADER,
  ];
  for (const [i, r] of (sample?.replicas ?? []).entries()) lines.push(row(r, i === state.selected));
  lines.push('', 'recent events:');
  const room = Math.max(1, height - lines.length - 3);
  for (const event of state.events.slice(-room)) lines.push(` ${fmt.clock(event.t)} ${event.text}`);
  while (lines.length < height - 2) lines.push('');
  lines.push(KEYS, KEYS2);
  return lines.slice(0, height).map((line) => (line.length > width ? `${line.slice(0, width - 1)}~` : line));
}

/** One line a second when stdout is not a terminal. */
export function renderPlain(sample: Sample): string {
  return `${fmt.clock(sample.t)} ${sample.replicas
    .map(
      (r) =>
        `${r.replica} ${r.up ? r.subscriber : 'down'} hit=${fmt.ratio(r.hitRatio).trim()} missed=${r.missed} stale=${r.staleService}/${r.staleProbe}`,
    )
    .join(' | ')}`;
}
