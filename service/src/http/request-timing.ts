import type { Middleware } from 'koa';

/** Told of every finished request, by route template (never the raw path: ids would explode the series). */
export type RequestObserver = (request: { method: string; route: string; status: number; seconds: number }) => void;

export function requestTiming(observe: RequestObserver): Middleware {
  return async (ctx, next) => {
    const started = process.hrtime.bigint();
    try {
      await next();
    } finally {
      const route = (ctx as { _matchedRoute?: string })._matchedRoute ?? 'unmatched';
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      observe({ method: ctx.method, route: String(route), status: ctx.status, seconds });
    }
  };
}
