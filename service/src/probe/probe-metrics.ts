import { STALE_WINDOW_BUCKETS } from '@local-cache-sync/core/prometheus';
import { Counter, Histogram, Registry } from 'prom-client';

export type ProbeMetrics = ReturnType<typeof createProbeMetrics>;

/** The probe's own metrics (names are a contract: docs/metrics-and-tracing.md). */
export function createProbeMetrics(replicas: string[]) {
  const registry = new Registry();
  const registers = [registry];
  const metrics = {
    registry,
    reads: new Counter({
      name: 'probe_reads_total',
      help: 'Probe reads by replica and result.',
      labelNames: ['replica', 'result'],
      registers,
    }),
    writes: new Counter({
      name: 'probe_writes_total',
      help: 'Probe writes by replica and result.',
      labelNames: ['replica', 'result'],
      registers,
    }),
    markedStale: new Counter({
      name: 'probe_reads_marked_stale_total',
      help: 'Probe reads the replica answered marked stale on purpose (X-Cache: STALE, fail-safe), by what the probe judged them (fresh or stale).',
      labelNames: ['replica', 'result'],
      registers,
    }),
    staleWindow: new Histogram({
      name: 'probe_stale_window_seconds',
      help: 'From the acknowledgment of a version to the first read on a replica that returned it, for reads that were stale in between.',
      labelNames: ['replica'],
      buckets: STALE_WINDOW_BUCKETS,
      registers,
    }),
  };
  for (const replica of replicas) {
    for (const result of ['fresh', 'stale', 'error']) metrics.reads.inc({ replica, result }, 0);
    for (const result of ['ok', 'error']) metrics.writes.inc({ replica, result }, 0);
    for (const result of ['fresh', 'stale']) metrics.markedStale.inc({ replica, result }, 0);
    metrics.staleWindow.zero({ replica });
  }
  return metrics;
}
