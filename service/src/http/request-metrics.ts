import type { Middleware } from 'koa';
import type { Metrics } from '../telemetry/metrics';

/** Observes request duration by route template (never by raw path: ids would explode the series). */
export function requestMetrics(metrics: Metrics): Middleware {
  return async (ctx, next) => {
    const started = process.hrtime.bigint();
    try {
      await next();
    } finally {
      const route = (ctx as { _matchedRoute?: string })._matchedRoute ?? 'unmatched';
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      metrics.httpDuration.observe(
        { method: ctx.method, route: String(route), status_code: String(ctx.status) },
        seconds,
      );
    }
  };
}
