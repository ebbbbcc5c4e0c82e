import { Redis } from 'ioredis';
import { interpolate, panelQueries } from '../harness/dashboards';
import { localConfig, type Prometheus, startPrometheus } from '../harness/prometheus';
import { type ReplicaProcess, spawnReplica } from '../harness/replica-process';
import { uniqueName } from '../harness/replicas';
import { waitFor } from '../harness/servers';

const SCRAPE_SECONDS = 1;
/** What Grafana makes of $__rate_interval at this scrape interval and a 15-minute view. */
const RATE_INTERVAL = '15s';
/** Panels fed only by the black-box probe, which does not exist yet (issue 4): they must run, and may be empty. */
const PROBE_PANELS = new Set(['Stale reads (probe)']);

/**
 * The check that matters: a real Prometheus with the project's rules scrapes three real replicas
 * while traffic flows and one replica's subscriber is killed, then every query of every panel runs.
 */
describe('every dashboard query against a real Prometheus that scraped real replicas through a fault', () => {
  let replicas: ReplicaProcess[] = [];
  let prometheus: Prometheus;
  let redis: Redis;
  const ids: string[] = [];

  beforeAll(async () => {
    const env = {
      MONGODB_URI: `${process.env.MONGODB_URI}/${uniqueName('books')}`,
      REDIS_URL: process.env.REDIS_URL ?? '',
      INVALIDATION_CHANNEL: uniqueName('book-channel'),
      STALE_CHECK_SAMPLE_RATE: '1',
      LOG_LEVEL: 'warn',
    };
    replicas = await Promise.all(['book-1', 'book-2', 'book-3'].map((id) => spawnReplica(id, env)));
    prometheus = await startPrometheus(
      localConfig(replicas.map((r) => ({ replica: r.id, address: r.url.replace('http://', '') })), SCRAPE_SECONDS),
    );
    redis = new Redis(process.env.REDIS_URL ?? '');
  }, 60_000);
  afterAll(async () => {
    await Promise.all(replicas.map((r) => r.stop('SIGKILL')));
    await prometheus?.destroy();
    redis?.disconnect();
  });

  const call = (method: string, url: string, body?: unknown) =>
    fetch(url, { method, headers: { 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
  const metricOf = async (replica: ReplicaProcess, name: string) => {
    const text = await (await fetch(`${replica.url}/metrics`)).text();
    return Number(new RegExp(`^${name}\\{[^}]*\\} (\\S+)$`, 'm').exec(text)?.[1] ?? 'NaN');
  };
  const scalar = async (expr: string) => Number((await prometheus.query(expr))[0]?.value[1] ?? 'NaN');

  it('drives traffic and a subscriber fault, then every panel query parses, executes, and shows the fault', async () => {
    const [writerA, writerB, victim] = replicas as [ReplicaProcess, ReplicaProcess, ReplicaProcess];
    for (let i = 0; i < 20; i += 1) {
      const response = await call('POST', `${writerA.url}/books`, { name: `Book ${i}`, author: 'n/a', year: 2000 });
      ids.push(((await response.json()) as { id: string }).id);
    }
    await waitFor(async () => (await scalar('count(up{job="book"} == 1)')) === 3, { timeoutMs: 20_000, message: '3 targets up' });

    // Traffic: round-robin writes on two replicas; the victim reads every book after each write.
    let writing = true;
    let reading = true;
    let n = 0;
    const writer = (async () => {
      while (writing) {
        const id = ids[n % ids.length]!;
        await call('PATCH', `${(n % 2 ? writerB : writerA).url}/books/${id}`, { year: 2000 + n });
        n += 1;
      }
    })();
    const reader = (async () => {
      while (reading) {
        for (const id of ids) await fetch(`${victim.url}/books/${id}`);
        await fetch(`${writerB.url}/books?name=${encodeURIComponent('Book 1')}`);
      }
    })();
    // Several scrapes of steady traffic first, so that rate() has a before to compare the fault with.
    await waitFor(
      async () =>
        (await scalar(`count(rate(cache_invalidations_received_total[${RATE_INTERVAL}]) > 0)`)) === 3 &&
        (await scalar(`sum(rate(http_server_request_duration_seconds_count{method="PATCH"}[${RATE_INTERVAL}]))`)) > 0,
      { timeoutMs: 30_000, message: 'steady traffic scraped' },
    );

    // The fault: Redis drops the victim's subscriber connection while writes flow.
    const list = String(await redis.call('CLIENT', 'LIST', 'TYPE', 'pubsub'));
    const clientId = /(?:^|\s)id=(\d+)/.exec(list.split('\n').find((l) => l.includes(' name=book-3:subscriber ')) ?? '')?.[1];
    expect(clientId).toBeDefined();
    await redis.call('CLIENT', 'KILL', 'ID', clientId!);
    await waitFor(async () => (await metricOf(victim, 'cache_invalidations_missed_total')) > 0, { message: 'missed on the victim' });
    writing = false;
    await writer;
    // Messages lost in the gap leave older versions in the victim's cache: its stale check sees them.
    await waitFor(async () => (await metricOf(victim, 'cache_stale_reads_total')) > 0, { timeoutMs: 15_000, message: 'stale reads on the victim' });
    await waitFor(async () => (await scalar('sum(cache_stale_reads_total{replica="book-3"})')) > 0, { message: 'stale reads scraped' });
    await waitFor(async () => (await scalar('sum(cache_invalidation_subscriber_reconnects_total{replica="book-3"})')) > 0, {
      message: 'reconnect scraped',
    });
    // Let recording rules evaluate over the fault before reading the panels.
    await waitFor(async () => (await prometheus.query('replica:cache_stale_reads:rate1m{replica="book-3"} > 0')).length > 0, {
      message: 'recording rules evaluated',
    });
    reading = false;
    await reader;

    const rows: { row: string; panel: string; expr: string; series: number; max: number }[] = [];
    for (const q of panelQueries()) {
      const result = await prometheus.queryRange(interpolate(q.expr, RATE_INTERVAL), 120);
      const values = result.flatMap((s) => s.values.map(([, v]) => Number(v))).filter(Number.isFinite);
      rows.push({ row: q.row, panel: q.panel, expr: q.expr, series: result.length, max: values.length ? Math.max(...values) : 0 });
    }
    console.log(
      ['| row | panel | query | series | max |', '|---|---|---|---|---|']
        .concat(rows.map((r) => `| ${r.row} | ${r.panel} | \`${r.expr}\` | ${r.series} | ${Number(r.max.toPrecision(4))} |`))
        .join('\n'),
    );

    // Delivery and staleness panels must show the fault: at least one query of each panel non-zero.
    for (const row of ['Delivery', 'Staleness']) {
      const panels = new Set(rows.filter((r) => r.row === row).map((r) => r.panel));
      for (const panel of panels) {
        if (PROBE_PANELS.has(panel)) continue;
        const nonZero = rows.some((r) => r.panel === panel && r.series > 0 && r.max > 0);
        expect([row, panel, nonZero]).toEqual([row, panel, true]);
      }
    }
    // Specific signals the fault must produce.
    const panel = (name: string) => rows.filter((r) => r.panel === name);
    expect(panel('Missed messages')[0]!.max).toBeGreaterThan(0);
    expect(panel('Receivers missing')[0]!.max).toBeGreaterThan(0);
    expect(panel('Stale reads (service)')[0]!.max).toBeGreaterThan(0);
    expect(panel('Replicas up')[0]!.max).toBe(3);
    expect(panel('Writes and invalidations per second')[0]!.max).toBeGreaterThan(0);

    // Exemplars on the lag histogram reach Prometheus with the trace id label Grafana links on.
    const end = Date.now() / 1000;
    const exemplars = await prometheus.api<{ exemplars: { labels: Record<string, string> }[] }[]>('/api/v1/query_exemplars', {
      query: 'cache_invalidation_lag_seconds_bucket',
      start: String(end - 300),
      end: String(end),
    });
    expect(exemplars.flatMap((s) => s.exemplars).some((e) => /^[0-9a-f]{32}$/.test(e.labels.trace_id ?? ''))).toBe(true);

    // The project's rules loaded and evaluate without errors; the fault fires its alerts.
    const rules = await prometheus.api<{ groups: { rules: { name: string; health: string }[] }[] }>('/api/v1/rules');
    const loaded = rules.groups.flatMap((g) => g.rules);
    expect(loaded.length).toBeGreaterThanOrEqual(16);
    expect(loaded.filter((r) => r.health !== 'ok')).toEqual([]);
    const alerts = await prometheus.api<{ alerts: { labels: { alertname: string; replica?: string } }[] }>('/api/v1/alerts');
    const active = alerts.alerts.map((a) => `${a.labels.alertname}/${a.labels.replica}`);
    expect(active).toEqual(expect.arrayContaining(['InvalidationsMissed/book-3', 'StaleReads/book-3']));
  }, 120_000);
});
