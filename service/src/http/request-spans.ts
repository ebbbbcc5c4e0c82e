import { context, propagation, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import type { Middleware } from 'koa';

/** Whether a request gets a span at all, from its method and traceparent header (reads are sampled, writes are not). */
export type RequestTraced = (method: string, traceparent: string | undefined) => boolean;

/** Scraped and polled constantly; a span each would bury the requests that matter. */
const UNTRACED_PATHS = new Set(['/metrics', '/healthz', '/readyz']);

/**
 * One HTTP SERVER span per traced request, named by its route, parent of every span the request
 * makes (the PRODUCER span of a write, MongoDB and Redis calls). A request left out gets no span and
 * no context at all: the generic HTTP instrumentation enters a context for every request, traced or
 * not, and that alone cost a third of a cached read (make bench, "Tracing on the read path").
 */
export function requestSpans(traced: RequestTraced): Middleware {
  const tracer = trace.getTracer('book-service-http');
  return (ctx, next) => {
    if (UNTRACED_PATHS.has(ctx.path) || !traced(ctx.method, ctx.get('traceparent') || undefined)) return next();
    const parent = propagation.extract(ROOT_CONTEXT, ctx.headers);
    const span = tracer.startSpan(
      ctx.method,
      {
        kind: SpanKind.SERVER,
        attributes: {
          'http.request.method': ctx.method,
          'url.path': ctx.path,
          'url.scheme': ctx.protocol,
          'network.protocol.version': ctx.req.httpVersion,
          'user_agent.original': ctx.get('user-agent') || undefined,
        },
      },
      parent,
    );
    return context.with(trace.setSpan(parent, span), async () => {
      try {
        await next();
      } catch (error) {
        span.recordException(error as Error);
        throw error;
      } finally {
        const route = (ctx as { _matchedRoute?: string })._matchedRoute;
        if (route) {
          span.updateName(`${ctx.method} ${route}`);
          span.setAttribute('http.route', String(route));
        }
        span.setAttribute('http.response.status_code', ctx.status);
        if (ctx.status >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
        span.end();
      }
    });
  };
}
