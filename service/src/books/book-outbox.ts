import type { Change, Outbox, WrittenAfter } from '@local-cache-sync/core';
import { firstKnownAfter, firstWriteAfter } from './book-document';
import type { BookRepository } from './book-repository';
import { keysOf } from './keys';
import type { OutboxEntry } from './outbox-marks';

/** Every cache key an outbox entry's write may have left stale. */
const toChange = (entry: OutboxEntry): Change => ({
  keys: keysOf(entry.id, entry.names),
  id: entry.id,
  version: entry.version,
  op: entry.op,
  committedAt: entry.at,
});

/** The synced cache's outbox, kept in the book documents (each write sets its mark atomically). */
export function bookOutbox(repository: BookRepository): Outbox {
  return {
    pending: async () => (await repository.pendingOutbox()).map(toChange),
    claim: async (olderThan, leaseMs) => (await repository.claimOutbox(olderThan, leaseMs)).map(toChange),
    settle: (change) => repository.settleOutbox(change.id, change.version, change.op),
    expedite: (change) => repository.expediteOutbox(change.id, change.version),
  };
}

/** The stale audit's question, answered from a book's kept write times. */
export function bookWrittenAfter(repository: BookRepository): WrittenAfter {
  return async (id, version) => {
    const history = await repository.findVersion(id);
    return history ? firstWriteAfter(history, version) : undefined;
  };
}

/**
 * The stale audit's second question: when a newer version was first known to a client. With no
 * acknowledgment recorded, its commit plus `ackWaitMs`: while that is still to come, the audit asks
 * again then, for an acknowledgment recorded after it was given.
 */
export function bookAcknowledgedAfter(repository: BookRepository, ackWaitMs: number): WrittenAfter {
  return async (id, version) => {
    const [history, acknowledged] = await Promise.all([repository.findVersion(id), repository.findAcknowledged(id)]);
    return history ? firstKnownAfter(history, acknowledged, version, ackWaitMs) : undefined;
  };
}
