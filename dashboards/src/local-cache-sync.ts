import {
  DashboardBuilder,
  DashboardCursorSync,
  DatasourceVariableBuilder,
  QueryVariableBuilder,
  RowBuilder,
  VariableRefresh,
} from '@grafana/grafana-foundation-sdk/dashboard';
import { DATASOURCE, heatmap, type LaidOut, REPLICA_SELECTOR, stat, stateTimeline, timeseries } from './panels';

const rate = (metric: string, extra = '') => `rate(${metric}{${REPLICA_SELECTOR}${extra}}[$__rate_interval])`;
const increase = (metric: string, extra = '') => `increase(${metric}{${REPLICA_SELECTOR}${extra}}[$__rate_interval])`;
/** The freshness SLOs Sloth generates from prometheus/slo/ (one set per sync mode). */
const SLO_SELECTOR = 'sloth_service="book"';
const quantile = (q: number, metric: string) =>
  `histogram_quantile(${q}, sum by (replica, le) (${rate(`${metric}_bucket`)}))`;

/** The rows of the main dashboard, top to bottom; each row's panel widths add up to 24. */
export const rows: [string, LaidOut[]][] = [
  [
    'Overview',
    [
      {
        build: stat,
        spec: {
          title: 'Replicas up',
          unit: 'none',
          width: 4,
          queries: [{ expr: `sum(up{job="book", ${REPLICA_SELECTOR}})` }],
          description:
            'Replicas Prometheus can scrape. Drops by one when a replica is killed (make kill-replica); a paused replica also drops once its scrape times out.',
        },
      },
      {
        build: timeseries,
        spec: {
          title: 'Hit ratio',
          unit: 'percentunit',
          width: 8,
          queries: [
            {
              expr: `sum(${rate('cache_gets_total', ', result="hit"')}) / sum(${rate('cache_gets_total')})`,
              legend: 'all replicas',
            },
            {
              expr: `sum by (replica) (${rate('cache_gets_total', ', result="hit"')}) / sum by (replica) (${rate('cache_gets_total')})`,
              legend: '{{replica}}',
            },
          ],
          description:
            'Cache hits over lookups (summed before dividing). A restarted replica starts cold and dips; a cut-off replica keeps a high hit ratio while it serves stale entries: high is not the same as correct.',
        },
      },
      {
        build: timeseries,
        spec: {
          title: 'Writes and invalidations per second',
          unit: 'ops',
          width: 12,
          queries: [
            {
              expr: `sum(rate(http_server_request_duration_seconds_count{${REPLICA_SELECTOR}, method=~"POST|PUT|PATCH|DELETE", status_code=~"2.."}[$__rate_interval]))`,
              legend: 'writes',
            },
            { expr: `sum(${rate('cache_invalidations_published_total')})`, legend: 'invalidations published' },
            { expr: `sum(${rate('cache_invalidations_received_total')})`, legend: 'invalidations received' },
          ],
          description:
            'Writes acknowledged, invalidations published, and invalidations received by all replicas (about writes x (replicas - 1) when nothing is lost). Received falls below that while a replica is killed, paused or cut off.',
        },
      },
    ],
  ],
  [
    'Freshness SLOs',
    [
      {
        build: timeseries,
        spec: {
          title: 'Freshness SLIs (5 m) against their objectives',
          unit: 'percentunit',
          width: 8,
          queries: [
            { expr: `1 - slo:sli_error:ratio_rate5m{${SLO_SELECTOR}}`, legend: '{{sli}} ({{mode}})' },
            {
              expr: `slo:objective:ratio{${SLO_SELECTOR}} and on (sloth_id) slo:sli_error:ratio_rate5m{${SLO_SELECTOR}}`,
              legend: 'objective {{sli}} ({{mode}})',
            },
          ],
          description:
            'The three freshness SLIs of the sync mode the replicas run, over the last 5 minutes (docs/metrics-and-tracing.md, Freshness SLOs): fresh reads (the probe), converged deliveries (applied within 1 s, missed counting as never applied) and fresh hits (sampled checks). A cut, paused or killed replica pulls fresh reads and converged deliveries down; in pubsub mode fresh reads stay down until the TTL.',
        },
      },
      {
        build: timeseries,
        spec: {
          title: 'Error budget left (30 d)',
          unit: 'percentunit',
          width: 8,
          queries: [{ expr: `slo:period_error_budget_remaining:ratio{${SLO_SELECTOR}}`, legend: '{{sli}} ({{mode}})' }],
          description:
            'The share of each SLO’s 30-day error budget not yet spent (Sloth’s period rules). Below 0 the objective is missed for the period; a fault that lasts minutes can spend a three-nines budget.',
        },
      },
      {
        build: timeseries,
        spec: {
          title: 'Burn rate per alert window',
          unit: 'short',
          width: 8,
          queries: [
            {
              expr: `{__name__=~"slo:sli_error:ratio_rate(5m|30m|1h|2h|6h|1d|3d)", ${SLO_SELECTOR}} / on (sloth_id) group_left () slo:error_budget:ratio{${SLO_SELECTOR}}`,
              legend: '{{sloth_slo}} {{sloth_window}}',
            },
          ],
          description:
            'How fast each SLO spends its budget, per window of the multi-window alerts: 1 spends it in exactly 30 days. The page alert fires at 14.4 (5 m and 1 h) or 6 (30 m and 6 h), the ticket at 3 (2 h and 1 d) or 1 (6 h and 3 d).',
        },
      },
    ],
  ],
  [
    'Delivery',
    [
      {
        build: timeseries,
        spec: {
          title: 'Published vs received per replica',
          unit: 'ops',
          width: 8,
          queries: [
            {
              expr: `sum by (replica) (${rate('cache_invalidations_published_total')})`,
              legend: 'published {{replica}}',
            },
            {
              expr: `sum by (replica) (${rate('cache_invalidations_received_total')})`,
              legend: 'received {{replica}}',
            },
          ],
          description:
            'Each replica receives what the others publish. A replica whose received line drops to zero while others publish is not getting messages: killed, paused, cut off, or Redis is down.',
        },
      },
      {
        build: timeseries,
        spec: {
          title: 'Receivers missing',
          unit: 'short',
          width: 8,
          queries: [
            {
              expr: `sum by (replica) (${increase('cache_invalidation_receivers_missing_total')})`,
              legend: 'sent by {{replica}}',
            },
          ],
          description:
            'Live members expected minus the receivers PUBLISH reported, per sending replica. Rises as soon as a replica is killed, cut off or disconnected by Redis, on the senders: the first sign that messages are going nowhere.',
        },
      },
      {
        build: timeseries,
        spec: {
          title: 'Missed messages',
          unit: 'short',
          width: 8,
          queries: [
            { expr: `sum by (replica) (${increase('cache_invalidations_missed_total')})`, legend: '{{replica}}' },
          ],
          description:
            'Sequence gaps seen by each receiver: messages that were sent and never arrived. Jumps on a replica when it resumes after a pause, heals after a partition, or reconnects after a Redis restart (on every replica then).',
        },
      },
      {
        build: timeseries,
        spec: {
          title: 'Key and tag invalidations received',
          unit: 'ops',
          width: 24,
          queries: [
            {
              expr: `sum(${rate('cache_invalidations_received_total')}) - sum(${rate('cache_tag_invalidations_total', ', source="remote"')})`,
              legend: 'key invalidations',
            },
            {
              expr: `sum by (kind) (${rate('cache_tag_invalidations_total', ', source="remote"')})`,
              legend: '{{kind}}',
            },
          ],
          description:
            "Messages applied from peers, summed over replicas: key invalidations (one book's keys), tag invalidations (tags: the author lists a write touches) and clears (clear: a whole cache). A tag invalidation or a clear travels in the same numbered, signed sequence as a key invalidation, so one that is lost shows under Missed messages like any other, and stream mode replays it.",
        },
      },
      {
        build: stateTimeline,
        spec: {
          title: 'Subscriber up',
          unit: 'bool_yes_no',
          width: 12,
          queries: [
            { expr: `max by (replica) (cache_invalidation_subscriber_up{${REPLICA_SELECTOR}})`, legend: '{{replica}}' },
          ],
          description:
            'Whether each replica is subscribed to the channel. Goes to no during a partition or a Redis restart, and (as seen from outside) when a paused replica is cut by the output-buffer limit.',
        },
      },
      {
        build: timeseries,
        spec: {
          title: 'Subscriber reconnects, failovers and publish errors',
          unit: 'short',
          width: 12,
          queries: [
            {
              expr: `sum by (replica) (${increase('cache_invalidation_subscriber_reconnects_total')})`,
              legend: 'reconnects {{replica}}',
            },
            {
              expr: `sum by (replica) (${increase('cache_invalidation_subscriber_failovers_total')})`,
              legend: 'failovers {{replica}}',
            },
            {
              expr: `sum by (replica) (${increase('cache_invalidation_publish_errors_total')})`,
              legend: 'publish errors {{replica}}',
            },
            {
              expr: `sum by (replica, reason) (${increase('cache_invalidations_rejected_total')})`,
              legend: 'rejected {{replica}} {{reason}}',
            },
          ],
          description:
            'Reconnects after a lost subscriber connection (Redis restart, heal, CLIENT KILL); failovers: a reconnect onto another Redis server (Sentinel or Cluster promoted a replica); publish errors while Redis is unreachable or failing over (nothing is queued); messages rejected as malformed or foreign (garbage on the channel).',
        },
      },
    ],
  ],
  [
    'Staleness',
    [
      {
        build: timeseries,
        spec: {
          title: 'Stale reads (service)',
          unit: 'short',
          width: 6,
          queries: [
            { expr: `sum by (replica) (${increase('cache_stale_reads_total')})`, legend: '{{replica}}' },
            {
              expr: `sum by (replica) (${increase('cache_stale_reads_unacknowledged_total')})`,
              legend: '{{replica}} before the write was acknowledged',
            },
          ],
          description:
            'Sampled cache hits that returned an older version than one whose write had been acknowledged to its client when the hit was served (what a client can confirm). Zero while delivery works; after missed messages the faulted replica serves stale entries until their TTL. "Before the write was acknowledged": older than a commit nobody had been told of yet (a writer that died after its commit, a client that gave up), counted apart.',
        },
      },
      {
        build: timeseries,
        spec: {
          title: 'Stale reads (probe)',
          unit: 'short',
          width: 6,
          queries: [
            {
              expr: `sum by (replica) (increase(probe_reads_total{${REPLICA_SELECTOR}, result="stale"}[$__rate_interval]))`,
              legend: '{{replica}}',
            },
          ],
          description:
            'Stale reads as the black-box probe sees them: a version older than one already acknowledged to the probe. The independent witness for the panel on the left; empty until the probe runs.',
        },
      },
      {
        build: heatmap,
        spec: {
          title: 'Stale window',
          unit: 's',
          width: 6,
          queries: [{ expr: `sum by (le) (${rate('cache_stale_window_seconds_bucket')})`, legend: '{{le}}' }],
          description:
            "From a write's commit to the moment a replica could no longer serve the older version. Milliseconds when messages arrive; up to the TTL when they are lost.",
        },
      },
      {
        build: timeseries,
        spec: {
          title: 'Stale window p99',
          unit: 's',
          width: 6,
          queries: [{ expr: quantile(0.99, 'cache_stale_window_seconds'), legend: '{{replica}}' }],
          description:
            'The 99th percentile stale window per replica. Grows towards the TTL on a replica that missed messages in pubsub mode.',
        },
      },
    ],
  ],
  [
    'Fail-safe',
    [
      {
        build: timeseries,
        spec: {
          title: 'Stale served on purpose, by reason',
          unit: 'short',
          width: 12,
          queries: [
            {
              expr: `sum by (replica, reason) (${increase('cache_stale_served_total')})`,
              legend: '{{reason}} {{replica}}',
            },
          ],
          description:
            'Old values answered on purpose by fail-safe (CACHE_GRACE_SECONDS) because MongoDB failed (load_failed), passed a timeout (soft_timeout, hard_timeout), or failed just before (throttled). Each answer says so (X-Cache: STALE, Age). Stale values served by accident are the Staleness row above.',
        },
      },
      {
        build: timeseries,
        spec: {
          title: 'Background loads',
          unit: 'short',
          width: 12,
          queries: [
            {
              expr: `sum by (cause, outcome) (${increase('cache_background_loads_total')})`,
              legend: '{{cause}} {{outcome}}',
            },
          ],
          description:
            'Loads no caller waits for: left running after a soft timeout answered the kept value, or refreshing a hot entry ahead of expiry. Cached when they finished, discarded when an invalidation or a flush of the key came after they started (so an old read is never cached), failed.',
        },
      },
    ],
  ],
  [
    'Sync mode',
    [
      {
        build: stateTimeline,
        spec: {
          title: 'Sync mode',
          unit: 'none',
          width: 8,
          queries: [
            {
              expr: `max by (replica, mode) (cache_sync_mode{${REPLICA_SELECTOR}}) == 1`,
              legend: '{{replica}} {{mode}}',
            },
            {
              expr: `max by (replica, topology) (cache_redis_topology{${REPLICA_SELECTOR}}) == 1`,
              legend: '{{replica}} on {{topology}} Redis',
            },
          ],
          description:
            "Each replica's SYNC_MODE (make sync-mode MODE=...) and Redis topology (standalone, sentinel, cluster). pubsub is the classic pattern: what it misses stays stale until TTL. pubsub-flush and stream bypass the cache while the bus cannot be trusted, then flush or replay exactly what was missed.",
        },
      },
      {
        build: stateTimeline,
        spec: {
          title: 'Cache trusted',
          unit: 'bool_yes_no',
          width: 8,
          queries: [{ expr: `min by (replica) (cache_sync_trusted{${REPLICA_SELECTOR}})`, legend: '{{replica}}' }],
          description:
            'No while a replica in a safer mode bypasses its cache (subscriber down, peers silent past SYNC_SILENCE_MS, a gap being repaired). Always yes in pubsub mode, even while it serves stale entries.',
        },
      },
      {
        build: timeseries,
        spec: {
          title: 'Recoveries and recovery time p99',
          unit: 'short',
          width: 8,
          queries: [
            {
              expr: `sum by (replica, reason) (${increase('cache_sync_recoveries_total')})`,
              legend: '{{replica}} {{reason}}',
            },
            { expr: quantile(0.99, 'cache_sync_recovery_seconds'), legend: 'p99 seconds {{replica}}' },
          ],
          description:
            'Flushes or replays after a gap, a reconnect or silence, and how long the cache stayed untrusted. One per replica after a cut or a pause, on every replica after a Redis restart.',
        },
      },
      {
        build: timeseries,
        spec: {
          title: 'Repairs',
          unit: 'short',
          width: 24,
          queries: [
            {
              expr: `sum by (replica) (${increase('cache_invalidations_replayed_total')})`,
              legend: 'replayed {{replica}}',
            },
            {
              expr: `sum by (replica) (${increase('cache_evictions_total', ', reason="flush"')})`,
              legend: 'flushed {{replica}}',
            },
            {
              expr: `sum by (replica) (${increase('cache_outbox_republished_total')})`,
              legend: 'republished from the outbox {{replica}}',
            },
            {
              expr: `sum by (replica) (${increase('cache_fill_fence_rejections_total')})`,
              legend: 'fills fenced {{replica}}',
            },
          ],
          description:
            'What the safer modes did about it: invalidations replayed from the stream log, entries flushed, writes republished from the outbox after a crash or a Redis outage, and stale fills refused by fences. All zero in pubsub mode, which repairs nothing.',
        },
      },
    ],
  ],
  [
    'Channel trust',
    [
      {
        build: stateTimeline,
        spec: {
          title: 'Signing',
          unit: 'bool_on_off',
          width: 6,
          queries: [
            { expr: `min by (replica) (cache_sync_signing_enabled{${REPLICA_SELECTOR}})`, legend: '{{replica}}' },
          ],
          description:
            'On: the replica signs its messages and rejects any without a valid signature (SYNC_SIGNING_KEYS). Off: anyone who can publish on the channel can forge invalidations (docs/security.md).',
        },
      },
      {
        build: timeseries,
        spec: {
          title: 'Forged or implausible messages',
          unit: 'short',
          width: 10,
          queries: [
            {
              expr: `sum by (replica, reason) (${increase('cache_invalidations_rejected_total', ', reason=~"unsigned|unknown_key|bad_signature|implausible_seq"')})`,
              legend: '{{replica}} {{reason}}',
            },
            {
              expr: `sum by (replica, field) (${increase('cache_invalidation_times_refused_total')})`,
              legend: '{{replica}} time refused: {{field}}',
            },
          ],
          description:
            'Messages rejected for their signature (unsigned, unknown_key, bad_signature) or held for an implausible sequence jump, and sender timestamps too far from this clock to use. Any of these without a key rotation in progress means someone else publishes on the channel.',
        },
      },
      {
        build: timeseries,
        spec: {
          title: 'Senders tracked',
          unit: 'short',
          width: 8,
          queries: [
            { expr: `max by (replica) (cache_invalidation_origins{${REPLICA_SELECTOR}})`, legend: '{{replica}}' },
          ],
          description:
            'Senders whose message sequences each replica tracks: the live replicas, plus forged or departed origins until they are forgotten (at most 1,024, silent ones after 10 minutes).',
        },
      },
    ],
  ],
  [
    'Latency',
    [
      {
        build: heatmap,
        spec: {
          title: 'Publish-to-evict lag',
          unit: 's',
          width: 12,
          queries: [
            {
              expr: `sum by (le) (${rate('cache_invalidation_lag_seconds_bucket')})`,
              legend: '{{le}}',
              exemplars: true,
            },
          ],
          description:
            "From the sender's publishedAt to the eviction on the receiver. Dots are exemplars: click one to open the invalidation's trace in Jaeger. A resumed replica shows a burst of long lags as it drains its backlog.",
        },
      },
      {
        build: timeseries,
        spec: {
          title: 'Lag p50 and p99',
          unit: 's',
          width: 12,
          queries: [
            { expr: quantile(0.5, 'cache_invalidation_lag_seconds'), legend: 'p50 {{replica}}' },
            { expr: quantile(0.99, 'cache_invalidation_lag_seconds'), legend: 'p99 {{replica}}', exemplars: true },
          ],
          description:
            'Sub-millisecond on a quiet loopback; rises with event-loop load. Lost messages do not show here: they never arrive. Watch Missed messages for those.',
        },
      },
    ],
  ],
  [
    'HTTP',
    [
      {
        build: timeseries,
        spec: {
          title: 'Requests per second',
          unit: 'reqps',
          width: 8,
          queries: [
            {
              expr: `sum by (method, route) (rate(http_server_request_duration_seconds_count{${REPLICA_SELECTOR}}[$__rate_interval]))`,
              legend: '{{method}} {{route}}',
            },
          ],
          description:
            'Requests by route template. A killed replica stops answering; a partitioned one still serves hits but fails misses.',
        },
      },
      {
        build: timeseries,
        spec: {
          title: 'Errors per second',
          unit: 'reqps',
          width: 8,
          queries: [
            {
              expr: `sum by (replica, status_code) (rate(http_server_request_duration_seconds_count{${REPLICA_SELECTOR}, status_code=~"4..|5.."}[$__rate_interval]))`,
              legend: '{{replica}} {{status_code}}',
            },
            {
              expr: `sum by (replica) (${rate('cache_write_outcome_unknown_total')})`,
              legend: '{{replica}} writes of unknown outcome',
            },
          ],
          description:
            '4xx (bad input, not found, 412 stale If-Match) and 5xx. A partitioned replica answers 503 on cache misses it cannot load from MongoDB; a database that does not answer within MONGODB_TIMEOUT_MS gives 503, and a write it never acknowledged counts as of unknown outcome (announced anyway).',
        },
      },
      {
        build: timeseries,
        spec: {
          title: 'Duration p99',
          unit: 's',
          width: 8,
          queries: [
            {
              expr: `histogram_quantile(0.99, sum by (route, le) (rate(http_server_request_duration_seconds_bucket{${REPLICA_SELECTOR}}[$__rate_interval])))`,
              legend: '{{route}}',
            },
          ],
          description:
            'Request duration p99 by route. Cache hits take well under a millisecond; misses pay the MongoDB round trip, so a cold replica is slower.',
        },
      },
    ],
  ],
  [
    'Redis',
    [
      {
        build: timeseries,
        spec: {
          title: 'Connected clients',
          unit: 'short',
          width: 8,
          queries: [{ expr: 'sum(redis_connected_clients)', legend: 'clients' }],
          description:
            'Two connections per replica (publisher and subscriber) plus the exporter. Drops by two when a replica is killed or cut off, and to zero during a Redis restart.',
        },
      },
      {
        build: timeseries,
        spec: {
          title: 'Pub/Sub channels',
          unit: 'short',
          width: 8,
          queries: [{ expr: 'sum(redis_pubsub_channels)', legend: 'channels' }],
          description:
            'Channels with at least one subscriber (1 when all is well). Zero after a Redis restart until subscribers are back.',
        },
      },
      {
        build: timeseries,
        spec: {
          title: 'Output-buffer disconnects',
          unit: 'short',
          width: 8,
          queries: [
            {
              expr: 'sum(increase(redis_client_output_buffer_limit_disconnections_total[$__rate_interval]))',
              legend: 'disconnects',
            },
          ],
          description:
            'Clients Redis dropped for exceeding the pub/sub output-buffer limit: the moment a paused replica is cut off and starts losing messages.',
        },
      },
    ],
  ],
];

export const MAIN_DASHBOARD_UID = 'local-cache-sync';

export function buildMainDashboard() {
  const builder = new DashboardBuilder('Local cache sync')
    .uid(MAIN_DASHBOARD_UID)
    .description(
      'Local caches on every replica kept in sync over Redis Pub/Sub: what is delivered, what is lost, and how stale reads get.',
    )
    .tags(['local-cache-sync', 'generated'])
    .editable()
    .tooltip(DashboardCursorSync.Crosshair)
    .refresh('5s')
    .time({ from: 'now-15m', to: 'now' })
    .timezone('browser')
    .withVariable(new DatasourceVariableBuilder('datasource').label('Data source').type('prometheus'))
    .withVariable(
      new QueryVariableBuilder('replica')
        .label('Replica')
        .datasource(DATASOURCE)
        .query('label_values(cache_gets_total, replica)')
        .refresh(VariableRefresh.OnTimeRangeChanged)
        .multi(true)
        .includeAll(true)
        .allValue('.*')
        .current({ text: 'All', value: '$__all', selected: true }),
    );
  let y = 0;
  let id = 0;
  for (const [title, panels] of rows) {
    id += 1;
    builder.withRow(new RowBuilder(title).id(id).gridPos({ h: 1, w: 24, x: 0, y }));
    y += 1;
    let x = 0;
    let rowHeight = 0;
    for (const { build, spec } of panels) {
      if (x + spec.width > 24) {
        x = 0;
        y += rowHeight;
        rowHeight = 0;
      }
      const height = spec.height ?? 8;
      const panel = build(spec);
      id += 1;
      panel.id(id);
      panel.gridPos({ h: height, w: spec.width, x, y });
      builder.withPanel(panel);
      x += spec.width;
      rowHeight = Math.max(rowHeight, height);
    }
    y += rowHeight;
  }
  return builder.build();
}
