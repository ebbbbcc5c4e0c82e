import {
  type Attributes,
  type Context,
  context,
  INVALID_SPAN_CONTEXT,
  type Link,
  propagation,
  ROOT_CONTEXT,
  type Span,
  SpanKind,
  SpanStatusCode,
  trace,
} from '@opentelemetry/api';

/**
 * The few OpenTelemetry messaging semantic-convention names used here. They live in the
 * conventions' incubating entry point, which may change in minor releases, so they are kept here.
 */
export const MessagingAttributes = {
  SYSTEM: 'messaging.system',
  OPERATION_TYPE: 'messaging.operation.type',
  OPERATION_NAME: 'messaging.operation.name',
  DESTINATION_NAME: 'messaging.destination.name',
  MESSAGE_ID: 'messaging.message.id',
  BODY_SIZE: 'messaging.message.body.size',
  CONSUMER_GROUP: 'messaging.consumer.group.name',
  BATCH_MESSAGE_COUNT: 'messaging.batch.message_count',
  SERVER_ADDRESS: 'server.address',
  SERVER_PORT: 'server.port',
} as const;

const tracer = () => trace.getTracer('local-cache-sync');

export interface TraceCarrier {
  traceparent?: string;
  tracestate?: string;
}

/** Runs `send` inside a PRODUCER span and hands it the W3C context of that span to put in the message. */
export async function withProducerSpan<T>(
  destination: string,
  attributes: Attributes,
  send: (carrier: TraceCarrier, span: Span) => Promise<T>,
  links: Link[] = [],
): Promise<T> {
  return tracer().startActiveSpan(
    `publish ${destination}`,
    {
      kind: SpanKind.PRODUCER,
      links,
      attributes: {
        [MessagingAttributes.SYSTEM]: 'redis',
        [MessagingAttributes.OPERATION_TYPE]: 'send',
        [MessagingAttributes.OPERATION_NAME]: 'publish',
        [MessagingAttributes.DESTINATION_NAME]: destination,
        ...attributes,
      },
    },
    async (span) => {
      const carrier: TraceCarrier = {};
      propagation.inject(trace.setSpan(context.active(), span), carrier);
      try {
        return await send(carrier, span);
      } catch (error) {
        span.recordException(error as Error);
        span.setStatus({ code: SpanStatusCode.ERROR, message: (error as Error).message });
        throw error;
      } finally {
        span.end();
      }
    },
  );
}

/** A CONSUMER span's attributes for `destination`, made once per receiver (given at the span's start, for samplers). */
export function consumerAttributes(destination: string, attributes: Attributes): Attributes {
  return {
    [MessagingAttributes.SYSTEM]: 'redis',
    [MessagingAttributes.OPERATION_TYPE]: 'process',
    [MessagingAttributes.OPERATION_NAME]: 'process',
    [MessagingAttributes.DESTINATION_NAME]: destination,
    ...attributes,
  };
}

/** What `process` gets for a message that has no span: records nothing, has no trace id. */
const NO_SPAN = trace.wrapSpanContext(INVALID_SPAN_CONTEXT);

/**
 * Whether a W3C traceparent (as the envelope accepts it: `vv-trace-span-ff`) says the writer
 * sampled its trace: the last bit of the flags.
 */
const sampledTraceparent = (traceparent: string | undefined) =>
  traceparent !== undefined && (Number.parseInt(traceparent.charAt(54), 16) & 1) === 1;

/**
 * Runs `process(span, item)` inside a CONSUMER span whose parent and link are the producer span in
 * `carrier`; `attributes` from consumerAttributes. A receiver's span continues the writer's trace:
 * a message whose writer did not sample its trace, or carries none, gets no span at all (an SDK's
 * startSpan costs as much for a span it does not record as the rest of the receive path), like
 * OpenTelemetry's parent-based sampling for an unsampled remote parent. A span that does not record
 * (the sampler said no) is not made the active one either.
 */
export function withConsumerSpan<T, I>(
  destination: string,
  carrier: TraceCarrier,
  attributes: Attributes,
  process: (span: Span, item: I) => T,
  item: I,
): T {
  if (!sampledTraceparent(carrier.traceparent)) return process(NO_SPAN, item);
  const producerContext: Context = propagation.extract(ROOT_CONTEXT, carrier);
  const producerSpan = trace.getSpanContext(producerContext);
  if (producerSpan === undefined) return process(NO_SPAN, item);
  const span = tracer().startSpan(
    `process ${destination}`,
    { kind: SpanKind.CONSUMER, links: [{ context: producerSpan }], attributes },
    producerContext,
  );
  try {
    if (!span.isRecording()) return process(span, item);
    return context.with(trace.setSpan(producerContext, span), process, undefined, span, item);
  } finally {
    span.end();
  }
}

/** The trace id of a span, or undefined when tracing is off (no SDK registered). */
export function recordedTraceId(span: Span): string | undefined {
  if (span === NO_SPAN) return undefined;
  const spanContext = span.spanContext();
  return trace.isSpanContextValid(spanContext) ? spanContext.traceId : undefined;
}
