import { InvalidationSubscriber, LocalCache } from '@local-cache-sync/core/testing';
import { decodeEnvelope, EnvelopeSigner, encodeEnvelope } from '@local-cache-sync/core/wire';
import { context, propagation, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { NoopSpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace';
import type { Book } from '../../service/src/books/book';
import { idKey, isKeyOfBook } from '../../service/src/books/keys';
import { createMetrics } from '../../service/src/telemetry/metrics';
import { readSampler, WritesAlwaysSampler } from '../../service/src/telemetry/tracing';

/** Microseconds per message of each part of the receive path, and of the whole handler. */
export interface ReceiveCost {
  parse: number;
  verify: number;
  validate: number;
  handlerUntraced: number;
  handlerTraced: number;
  /** The whole handler untraced, messages unsigned and the receiver without keys. */
  handlerUnsigned?: number;
}

/**
 * The receive path in this process, message by message: `rounds` signed single invalidations (a
 * distinct id each, as on the channel) through the parts a replica runs and through the whole
 * InvalidationSubscriber with the replica's metrics observer, untraced and with a CONSUMER span
 * per message (the replica's sampler, spans dropped at the end); and unsigned, untraced.
 */
export function receiveCost(rounds: number): ReceiveCost {
  const signer = new EnvelopeSigner([{ id: 'bench', secret: Buffer.alloc(32, 7) }]);
  const scope = { name: 'book', isKeyOf: isKeyOfBook };
  const messages = (from: number) =>
    Array.from({ length: rounds }, (_, i) => {
      const id = (from + i).toString(16).padStart(24, '0');
      const now = Date.now();
      return signer.sign(
        encodeEnvelope({
          v: 1,
          cache: 'book',
          keys: [idKey(id)],
          id,
          version: 2,
          op: 'update',
          origin: 'bench',
          epoch: 'e1',
          seq: from + i,
          committedAt: now,
          publishedAt: now,
          traceparent: `00-${id.padStart(32, '0')}-b7ad6b7169203331-01`,
        }),
      );
    });
  const perMessage = (batch: string[], handle: (message: string) => unknown) => {
    for (const message of batch.slice(0, 1000)) handle(message);
    const started = process.hrtime.bigint();
    for (const message of batch) handle(message);
    return Number(process.hrtime.bigint() - started) / 1000 / batch.length;
  };
  const subscriber = (signed = true) => {
    const metrics = createMetrics('book');
    return new InvalidationSubscriber<Book>({
      cache: new LocalCache<Book>({ ttlSeconds: 300, maxKeys: 100_000 }),
      scope,
      channel: 'bench',
      selfOrigin: 'receiver',
      signer: signed ? signer : undefined,
      events: metrics.synced.observer,
    });
  };
  const unsigned = messages(2 * rounds + 1).map((message) => {
    const verified = signer.verify(message);
    if (!verified.ok) throw new Error('receive cost: a message did not verify');
    return verified.body;
  });
  const batch = messages(1);
  const bodies = batch.map((message) => {
    const verified = signer.verify(message);
    if (!verified.ok) throw new Error('receive cost: a message did not verify');
    return verified.body;
  });
  const cost = {
    parse: perMessage(bodies, (body) => JSON.parse(body)),
    verify: perMessage(batch, (message) => signer.verify(message)),
    validate: perMessage(bodies, (body) => decodeEnvelope(body, scope)),
    handlerUntraced: perMessage(batch, subscriber().handle),
    handlerUnsigned: perMessage(unsigned, subscriber(false).handle),
  };
  const provider = new TracerProvider({
    sampler: new WritesAlwaysSampler(readSampler({})),
    spanProcessors: [new NoopSpanProcessor()],
  });
  trace.setGlobalTracerProvider(provider);
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  try {
    return { ...cost, handlerTraced: perMessage(messages(rounds + 1), subscriber().handle) };
  } finally {
    trace.disable();
    context.disable();
    propagation.disable();
  }
}
