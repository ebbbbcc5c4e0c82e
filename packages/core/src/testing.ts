/**
 * An in-process bus with Redis Pub/Sub's semantics (fire-and-forget, delivered to current
 * subscribers only), for unit tests: `createSyncedCache({ transport: bus.transport(), ... })`.
 *
 * @packageDocumentation
 */
export { MemoryBus, MemoryTransport } from './sync/memory-transport';
