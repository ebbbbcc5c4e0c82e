/**
 * The wire format and the reasons events carry, for tools that speak it (benchmarks, fault
 * injection, forgery tests): envelope v1, its encoder and decoder, signing, and the reason lists.
 * Not needed to use a synced cache.
 *
 * @packageDocumentation
 */
export { type CacheObserver, EVICTION_REASONS, type EvictionReason } from './cache/local-cache';
export type { Started, SyncObserver } from './events';
export { preciseNow } from './sync/clock';
export {
  type BatchMessage,
  type BulkMessage,
  type CacheScope,
  type ClearMessage,
  type DecodeResult,
  decodeEnvelope,
  type Envelope,
  encodeEnvelope,
  type HeartbeatMessage,
  type InvalidationMessage,
  MAX_TAG_LENGTH,
  MAX_TAGS_PER_MESSAGE,
  REJECT_REASONS,
  type RejectReason,
  type Sender,
  type TagsMessage,
} from './sync/envelope';
export { MAX_JUMP } from './sync/gap-detector';
export type { PublishObserver } from './sync/invalidation-publisher';
export type { AppliedInvalidation, AppliedTagInvalidation, ReceiveObserver } from './sync/invalidation-subscriber';
export type { ErrorObserver, FailedDuring } from './sync/observers';
export type { Recovery, RecoveryDone, RecoveryReason } from './sync/recovery';
export { EnvelopeSigner, parseSigningKeys, type SigningKey, type VerifyResult } from './sync/signing';
export type { StaleObserver } from './sync/stale-audit';
