import type { SyncedCacheObserver } from '@local-cache-sync/core';
import type { RequestObserver } from '../http/request-timing';
import { type Logger, ThrottledLog } from '../telemetry/logger';
import type { Metrics } from '../telemetry/metrics';

// What the layers report, turned into logs (the synced cache's metrics come from its Prometheus
// adapter): the only place that knows both sides.

/** Everything worth a log line from the synced cache; floods (rejections, gaps, errors) one line a minute. */
export function syncLogObserver(logger: Logger): SyncedCacheObserver {
  const throttled = new ThrottledLog(logger);
  let lastNode: string | undefined;
  let wasUp = false;
  return {
    onStarted: ({ mode, signed, topology }) => {
      logger.info({ mode, topology, signed }, 'synced cache started');
      if (!signed) {
        logger.warn(
          'SYNC_SIGNING_KEYS is not set: messages are not signed, and anyone who can publish on the channel can forge them',
        );
      }
    },
    onError: (error, during) => {
      // Publishes flood during an outage: one line a minute; the outbox and the audit retry quietly.
      if (during === 'publish' || during === 'heartbeat')
        throttled.warn(`publish-${during}`, { err: error, kind: during }, 'publish failed');
      else logger.debug({ err: error, during }, `${during} failed; it is tried again`);
    },
    onRejected: (reason, detail) =>
      throttled.warn(`reject-${reason}`, { reason, detail }, 'invalidation message rejected'),
    onMissed: (count, origin) => throttled.warn(`missed-${origin}`, { origin, count }, 'invalidation messages missed'),
    onImplausibleTime: (field, detail) =>
      throttled.warn(`time-${field}`, { field, detail }, 'implausible sender timestamp ignored'),
    onSubscriberState: (state, node) => {
      const from = lastNode;
      const failover = state === 'up' && wasUp && node !== undefined && from !== undefined && node !== from;
      if (state === 'up') {
        wasUp = true;
        lastNode = node ?? lastNode;
      }
      if (failover) logger.warn({ from, node }, 'invalidation subscriber moved to another Redis server (failover)');
      else logger.info({ state, node }, `invalidation subscriber ${state}`);
    },
    onRecovery: (recovery) => {
      const { reason, ms, action } = recovery;
      if (recovery.action === 'failed') logger.warn({ err: recovery.error, reason }, 'sync recovery failed');
      else if (recovery.action === 'flushed' && recovery.logTooShort)
        logger.warn({ reason, ms }, 'the invalidation log no longer reached back: flushed');
      else logger.info({ reason, ms, action }, 'sync recovered');
    },
    onRepublished: (change) =>
      logger.warn(
        { id: change.id, version: change.version, op: change.op },
        'republished an orphaned invalidation from the outbox',
      ),
  };
}

export function requestMetricsObserver(metrics: Metrics): RequestObserver {
  return ({ method, route, status, seconds }) =>
    metrics.httpDuration.observe({ method, route, status_code: String(status) }, seconds);
}
