import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { ROOT, waitFor } from '../../local-stack/processes';
import { localConfig, type Prometheus, startPrometheus } from '../../local-stack/prometheus';
import { killSubscriber } from '../../local-stack/redis-clients';
import { type ReplicaProcess, spawnReplica } from '../../local-stack/replica-process';
import { type Probe, startProbe } from '../../src/probe/probe';
import { interpolate, metricNames, panelQueries, ruleFiles } from '../harness/dashboards';
import { processEnv, uniqueName } from '../harness/replicas';

const SCRAPE_SECONDS = 1;
/** What Grafana makes of $__rate_interval at this scrape interval and a 15-minute view. */
const RATE_INTERVAL = '15s';

/**
 * The check that matters: a real Prometheus with the project's rules scrapes three real replicas
 * while traffic flows and one replica's subscriber is killed, then every query of every panel runs.
 */
describe('every dashboard query against a real Prometheus that scraped real replicas through a fault', () => {
  let replicas: ReplicaProcess[] = [];
  let prometheus: Prometheus;
  let redis: Redis;
  let probe: Probe;
  let probeServer: Server;
  const channel = uniqueName('book-channel');

  beforeAll(async () => {
    const env = processEnv('dash', { INVALIDATION_CHANNEL: channel, STALE_CHECK_SAMPLE_RATE: '1', LOG_LEVEL: 'warn' });
    replicas = await Promise.all(['book-1', 'book-2', 'book-3'].map((id) => spawnReplica(id, env)));
    probe = await startProbe({
      targets: replicas.map((r) => r.url),
      rate: 100,
      duration: 0,
      readRatio: 0.8,
      keys: 20,
      popularity: 'uniform',
      seed: 7,
    });
    probeServer = createServer(async (_req, res) => {
      res.writeHead(200, { 'content-type': probe.metrics.registry.contentType });
      res.end(await probe.metrics.registry.metrics());
    });
    await new Promise<void>((resolve) => probeServer.listen(0, '127.0.0.1', resolve));
    const probeAddress = `127.0.0.1:${(probeServer.address() as AddressInfo).port}`;
    prometheus = await startPrometheus(
      localConfig(
        replicas.map((r) => ({ replica: r.id, address: r.url.replace('http://', '') })),
        probeAddress,
        SCRAPE_SECONDS,
      ),
    );
    redis = new Redis(process.env.REDIS_URL ?? '');
  }, 60_000);
  afterAll(async () => {
    probe?.stop();
    await probe?.done;
    probeServer?.close();
    await Promise.all(replicas.map((r) => r.stop('SIGKILL')));
    await prometheus?.destroy();
    redis?.disconnect();
  });

  const metricOf = async (replica: ReplicaProcess, name: string) => {
    const text = await (await fetch(`${replica.url}/metrics`)).text();
    return Number(new RegExp(`^${name}\\{[^}]*\\} (\\S+)$`, 'm').exec(text)?.[1] ?? 'NaN');
  };
  const scalar = async (expr: string) => Number((await prometheus.query(expr))[0]?.value[1] ?? 'NaN');

  it('drives traffic and a subscriber fault, then every panel query parses, executes, and shows the fault', async () => {
    const [, , victim] = replicas as [ReplicaProcess, ReplicaProcess, ReplicaProcess];
    await waitFor(async () => (await scalar('count(up == 1)')) === 4, {
      timeoutMs: 20_000,
      message: '3 replicas and the probe up',
    });

    // Several scrapes of steady traffic first, so that rate() has a before to compare the fault with.
    await waitFor(
      async () =>
        (await scalar(`count(rate(cache_invalidations_received_total[${RATE_INTERVAL}]) > 0)`)) === 3 &&
        (await scalar(`sum(rate(http_server_request_duration_seconds_count{method="PATCH"}[${RATE_INTERVAL}]))`)) > 0,
      { timeoutMs: 30_000, message: 'steady traffic scraped' },
    );

    // The fault: Redis drops the victim's subscriber connection while the probe's writes flow. A
    // drop lasts 60 to 220 ms; it is repeated until it has cost the victim a write, not just a heartbeat.
    let kills = 0;
    await waitFor(
      async () => {
        if ((await metricOf(victim, 'cache_stale_reads_total')) > 0 && probe.summary().replicas[2]!.stale > 0)
          return true;
        const reconnects = await metricOf(victim, 'cache_invalidation_subscriber_reconnects_total');
        if (reconnects < kills) return false; // still away from the last kill
        kills += 1;
        await killSubscriber(redis, 'book-3');
        return false;
      },
      { timeoutMs: 30_000, intervalMs: 500, message: 'stale reads on the victim after subscriber kills' },
    );
    // A gap is known only once the next message from the same sender arrives (a heartbeat at most
    // one interval later), which can be after the stale read it caused.
    await waitFor(async () => (await metricOf(victim, 'cache_invalidations_missed_total')) > 0, {
      timeoutMs: 10_000,
      message: 'the victim counted missed messages',
    });
    await waitFor(
      async () =>
        (await scalar('sum(cache_stale_reads_total{replica="book-3"})')) > 0 &&
        (await scalar('sum(probe_reads_total{replica="book-3", result="stale"})')) > 0 &&
        (await scalar('sum(cache_invalidation_subscriber_reconnects_total{replica="book-3"})')) > 0,
      { timeoutMs: 20_000, message: 'stale reads and the reconnect scraped' },
    );
    console.log(`subscriber killed ${kills} time(s) before a write was lost`);
    // Someone without the key publishes on the channel: the Channel trust row must show it.
    await redis.publish(
      channel,
      JSON.stringify({ v: 1, type: 'heartbeat', origin: 'intruder', epoch: 'e', seq: 1, publishedAt: Date.now() }),
    );
    await waitFor(async () => (await scalar('sum(cache_invalidations_rejected_total{reason="unsigned"})')) >= 3, {
      timeoutMs: 20_000,
      message: 'the forged message rejected on every replica, and scraped',
    });
    // Let recording rules evaluate over the fault before reading the panels.
    await waitFor(
      async () => (await prometheus.query('replica:cache_stale_reads:rate1m{replica="book-3"} > 0')).length > 0,
      {
        message: 'recording rules evaluated',
      },
    );

    // The freshness SLOs (Sloth's rules) see the fault in the sync mode the replicas run (pubsub).
    await waitFor(
      async () =>
        (await prometheus.query('slo:sli_error:ratio_rate5m{sli="fresh-reads", mode="pubsub"} > 0')).length > 0 &&
        (await prometheus.query('slo:period_error_budget_remaining:ratio{sli="fresh-reads", mode="pubsub"} < 1'))
          .length > 0,
      { message: 'the SLO rules evaluated the stale reads' },
    );

    const rows: { row: string; panel: string; expr: string; series: number; max: number }[] = [];
    for (const q of panelQueries()) {
      const result = await prometheus.queryRange(interpolate(q.expr, RATE_INTERVAL), 120);
      const values = result.flatMap((s) => s.values.map(([, v]) => Number(v))).filter(Number.isFinite);
      rows.push({
        row: q.row,
        panel: q.panel,
        expr: q.expr,
        series: result.length,
        max: values.length ? Math.max(...values) : 0,
      });
    }
    console.log(
      ['| row | panel | query | series | max |', '|---|---|---|---|---|']
        .concat(
          rows.map((r) => `| ${r.row} | ${r.panel} | \`${r.expr}\` | ${r.series} | ${Number(r.max.toPrecision(4))} |`),
        )
        .join('\n'),
    );

    // Every metric a panel or a rule selects has a producer in compose at the pinned versions: a
    // replica or the probe (scraped here, or declared on their /metrics), a recording rule, or
    // the pinned redis_exporter's list (and the Redis version its INFO field needs).
    const exposed = (
      await Promise.all([
        ...replicas.map(async (r) => (await fetch(`${r.url}/metrics`)).text()),
        probe.metrics.registry.metrics(),
      ])
    ).join('\n');
    const { exprs, recorded } = ruleFiles();
    const exporterList = readFileSync(join(ROOT, 'prometheus/redis-exporter-metrics.txt'), 'utf8');
    const exporterMetrics = new Set(exporterList.split('\n').filter((line) => line && !line.startsWith('#')));
    const producers: [string, string][] = [];
    for (const name of new Set([...panelQueries().map((q) => q.expr), ...exprs].flatMap(metricNames))) {
      const declared = new RegExp(`^# TYPE ${name.replace(/_(bucket|count|sum)$/, '')} `, 'm').test(exposed);
      const scraped = (await scalar(`count({__name__="${name}"})`)) > 0;
      producers.push([
        name,
        recorded.has(name)
          ? 'recording rule'
          : scraped || declared
            ? 'replica, probe or Prometheus'
            : exporterMetrics.has(name)
              ? 'redis_exporter'
              : 'nothing',
      ]);
    }
    expect(producers.filter(([, producer]) => producer === 'nothing')).toEqual([]);
    expect(producers.filter(([, producer]) => producer === 'redis_exporter').length).toBeGreaterThan(0);
    const compose = readFileSync(join(ROOT, 'docker-compose.yml'), 'utf8');
    const listVersion = /redis_exporter (v[\d.]+)/.exec(exporterList)?.[1];
    expect(compose).toContain(`image: oliver006/redis_exporter:${listVersion}`);
    const redisVersion = /image: redis:(\d+)\.(\d+)/.exec(compose)!.slice(1).map(Number) as [number, number];
    for (const [, major, minor, metric] of exporterList.matchAll(/^# requires-redis (\d+)\.(\d+) (\S+)$/gm)) {
      if (!producers.some(([name]) => name === metric)) continue;
      const enough =
        redisVersion[0] > Number(major) || (redisVersion[0] === Number(major) && redisVersion[1] >= Number(minor));
      expect([metric, `redis ${redisVersion.join('.')}`, enough]).toEqual([
        metric,
        `redis ${redisVersion.join('.')}`,
        true,
      ]);
    }

    // Delivery and staleness panels must show the fault: at least one query of each panel non-zero.
    for (const row of ['Delivery', 'Staleness']) {
      const panels = new Set(rows.filter((r) => r.row === row).map((r) => r.panel));
      for (const panel of panels) {
        const nonZero = rows.some((r) => r.panel === panel && r.series > 0 && r.max > 0);
        expect([row, panel, nonZero]).toEqual([row, panel, true]);
      }
    }
    // Specific signals the fault must produce.
    const panel = (name: string) => rows.filter((r) => r.panel === name);
    expect(panel('Missed messages')[0]!.max).toBeGreaterThan(0);
    expect(panel('Receivers missing')[0]!.max).toBeGreaterThan(0);
    expect(panel('Stale reads (service)')[0]!.max).toBeGreaterThan(0);
    expect(panel('Stale reads (probe)')[0]!.max).toBeGreaterThan(0);
    expect(panel('Replicas up')[0]!.max).toBe(3);
    expect(panel('Writes and invalidations per second')[0]!.max).toBeGreaterThan(0);
    expect(panel('Forged or implausible messages')[0]!.max).toBeGreaterThan(0);
    expect(panel('Signing')[0]!.max).toBe(1);
    expect(panel('Senders tracked')[0]!.max).toBeGreaterThanOrEqual(2);

    // The SLO row: every SLI of the running mode (pubsub) and its objective, a budget spent, a burn.
    expect(panel('Freshness SLIs (5 m) against their objectives').map((q) => q.series)).toEqual([3, 3]);
    expect(panel('Error budget left (30 d)')[0]!.series).toBe(3);
    expect(panel('Burn rate per alert window')[0]!.series).toBe(21);
    expect(panel('Burn rate per alert window')[0]!.max).toBeGreaterThan(0);
    const slis = await prometheus.query('1 - slo:sli_error:ratio_rate5m{sloth_service="book"}');
    expect(slis.map((s) => s.metric.mode)).toEqual(['pubsub', 'pubsub', 'pubsub']);
    const freshReads = slis.find((s) => s.metric.sli === 'fresh-reads')!;
    expect(Number(freshReads.value[1])).toBeLessThan(1);
    expect(Number(freshReads.value[1])).toBeGreaterThan(0.5);
    console.log(
      `SLIs now: ${slis.map((s) => `${s.metric.sli} ${Number(s.value[1]).toFixed(5)}`).join(', ')}; fresh-reads budget left ${
        (await prometheus.query('slo:period_error_budget_remaining:ratio{sli="fresh-reads"}'))[0]?.value[1]
      }`,
    );

    // Exemplars on the lag histogram reach Prometheus with the trace id label Grafana links on.
    const end = Date.now() / 1000;
    const exemplars = await prometheus.api<{ exemplars: { labels: Record<string, string> }[] }[]>(
      '/api/v1/query_exemplars',
      {
        query: 'cache_invalidation_lag_seconds_bucket',
        start: String(end - 300),
        end: String(end),
      },
    );
    expect(exemplars.flatMap((s) => s.exemplars).some((e) => /^[0-9a-f]{32}$/.test(e.labels.trace_id ?? ''))).toBe(
      true,
    );

    // The project's rules loaded and evaluate without errors; the fault fires its alerts.
    const rules = await prometheus.api<{ groups: { rules: { name: string; health: string }[] }[] }>('/api/v1/rules');
    const loaded = rules.groups.flatMap((g) => g.rules);
    expect(loaded.length).toBeGreaterThanOrEqual(16 + 153);
    expect(loaded.filter((r) => r.health !== 'ok')).toEqual([]);
    const activeAlerts = async () =>
      (
        await prometheus.api<{ alerts: { labels: { alertname: string; replica?: string } }[] }>('/api/v1/alerts')
      ).alerts.map((a) => `${a.labels.alertname}/${a.labels.replica}`);
    const expected = ['InvalidationsMissed/book-3', 'StaleReads/book-3'];
    await waitFor(
      async () => {
        const active = await activeAlerts();
        return expected.every((name) => active.includes(name));
      },
      { message: 'alerts active' },
    );
    expect(await activeAlerts()).toEqual(expect.arrayContaining(expected));
  }, 120_000);
});
