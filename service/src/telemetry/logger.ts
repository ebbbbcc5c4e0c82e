import { trace } from '@opentelemetry/api';
import pino, { type Logger } from 'pino';

export type { Logger };

/** JSON logs that carry the active span's trace and span ids, so a log line leads to its trace. */
export function createLogger(replica: string, level: string): Logger {
  return pino({
    level,
    base: { replica },
    // Redis errors carry the failed command's arguments (AUTH or HELLO with the password), and
    // driver errors their connection options: never written out.
    redact: {
      paths: ['err.command.args', 'err.args', 'err.options', '*.password', '*.url', '*.uri', 'err.*.password'],
      censor: '[redacted]',
    },
    mixin() {
      const span = trace.getActiveSpan();
      if (!span) return {};
      const { traceId, spanId } = span.spanContext();
      return { trace_id: traceId, span_id: spanId };
    },
  });
}

/** Logs at most once per interval per key (e.g. per rejection reason), so a flood stays one line. */
export class ThrottledLog {
  private readonly lastLogged = new Map<string, number>();

  constructor(
    private readonly logger: Logger,
    private readonly intervalMs = 60_000,
  ) {}

  warn(key: string, data: object, message: string): void {
    const now = Date.now();
    if (now - (this.lastLogged.get(key) ?? Number.NEGATIVE_INFINITY) < this.intervalMs) return;
    this.lastLogged.set(key, now);
    this.logger.warn(data, message);
  }
}
