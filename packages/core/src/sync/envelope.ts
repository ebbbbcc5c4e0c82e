import { z } from 'zod';

/** Invalidation envelope v1 (a contract: docs/sync-modes.md#the-envelope). */
export const ENVELOPE_VERSION = 1;
export const MAX_MESSAGE_BYTES = 64 * 1024;
export const MAX_KEYS_PER_MESSAGE = 256;
/** Tags one tag invalidation may name, and one entry may carry. */
export const MAX_TAGS_PER_MESSAGE = 256;
export const MAX_TAG_LENGTH = 256;

export const REJECT_REASONS = [
  'oversized',
  'malformed_json',
  'unsupported_version',
  'invalid_envelope',
  'foreign_cache',
  'key_mismatch',
  'duplicate',
  'unsigned',
  'unknown_key',
  'bad_signature',
  'implausible_seq',
  'unknown_type',
  'unknown_tag',
] as const;
export type RejectReason = (typeof REJECT_REASONS)[number];

const TRACEPARENT = /^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$/;
const timestamp = z.number().finite().positive();
const identity = {
  v: z.literal(ENVELOPE_VERSION),
  origin: z.string().min(1).max(128),
  epoch: z.string().min(1).max(64),
  seq: z.number().int().positive().max(Number.MAX_SAFE_INTEGER),
  publishedAt: timestamp,
};

const invalidationSchema = z.strictObject({
  ...identity,
  cache: z.string().min(1).max(64),
  keys: z.array(z.string().min(1).max(1024)).min(1).max(MAX_KEYS_PER_MESSAGE),
  id: z.string().min(1).max(128),
  version: z.number().int().positive().max(Number.MAX_SAFE_INTEGER),
  op: z.enum(['create', 'update', 'delete']),
  committedAt: timestamp,
  traceparent: z.string().regex(TRACEPARENT).optional(),
  tracestate: z.string().max(512).optional(),
});

const heartbeatSchema = z.strictObject({ ...identity, type: z.literal('heartbeat') });

/**
 * Several invalidations coalesced into one message (one sequence number) when writes come together
 * (within one tick of the process); at most MAX_KEYS_PER_MESSAGE keys in all. An addition to
 * envelope v1: a lone write is still sent as the plain invalidation above.
 */
const batchItemSchema = invalidationSchema
  .pick({ keys: true, id: true, version: true, op: true, committedAt: true })
  .strict();
const batchSchema = z.strictObject({
  ...identity,
  type: z.literal('batch'),
  cache: invalidationSchema.shape.cache,
  items: z
    .array(batchItemSchema)
    .min(2)
    .refine(
      (items) => items.reduce((n, item) => n + item.keys.length, 0) <= MAX_KEYS_PER_MESSAGE,
      `at most ${MAX_KEYS_PER_MESSAGE} keys in all`,
    ),
  traceparent: invalidationSchema.shape.traceparent,
  tracestate: invalidationSchema.shape.tracestate,
});

/**
 * Evicts every entry carrying one of `tags`, on every replica. `version` comes from Redis (one
 * counter per channel, taken after the change committed): it orders tag invalidations and clears
 * against the loads each replica started, never the senders' clocks.
 */
const tagsSchema = z.strictObject({
  ...identity,
  type: z.literal('tags'),
  cache: invalidationSchema.shape.cache,
  tags: z.array(z.string().min(1).max(MAX_TAG_LENGTH)).min(1).max(MAX_TAGS_PER_MESSAGE),
  version: invalidationSchema.shape.version,
  committedAt: timestamp,
  traceparent: invalidationSchema.shape.traceparent,
  tracestate: invalidationSchema.shape.tracestate,
});

/** Evicts every entry of the cache, on every replica; `version` as for tags. */
const clearSchema = tagsSchema
  .omit({ type: true, tags: true })
  .extend({ type: z.literal('clear') })
  .strict();

/** The message types this version understands; a newer sender's other types are counted as gaps. */
const KNOWN_TYPES = new Set(['heartbeat', 'batch', 'tags', 'clear']);

export type InvalidationMessage = z.infer<typeof invalidationSchema>;
/** Evicts every entry carrying one of `tags`, on every replica (`type: 'tags'`). */
export interface TagsMessage {
  v: 1;
  type: 'tags';
  cache: string;
  tags: string[];
  /** From the channel's counter in Redis, taken after the change committed. */
  version: number;
  committedAt: number;
  origin: string;
  epoch: string;
  seq: number;
  publishedAt: number;
  traceparent?: string;
  tracestate?: string;
}
/** Evicts every entry of the cache, on every replica (`type: 'clear'`). */
export type ClearMessage = Omit<TagsMessage, 'type' | 'tags'> & { type: 'clear' };
/** A message that invalidates by tag or clears the whole cache. */
export type BulkMessage = TagsMessage | ClearMessage;
export type HeartbeatMessage = z.infer<typeof heartbeatSchema>;
export type BatchMessage = z.infer<typeof batchSchema>;
export type Envelope = InvalidationMessage | HeartbeatMessage | BatchMessage | BulkMessage;

/**
 * Which messages a receiver accepts: those of its cache, naming only keys its key scheme gives the
 * record a message is about. The scheme comes from the cache's owner (books/keys.ts).
 */
export interface CacheScope {
  name: string;
  isKeyOf(key: string, id: string): boolean;
  /** Which tags a tag invalidation may name (default: any); a message naming another is rejected. */
  isTag?(tag: string): boolean;
}

/** Who sent a message and its number: enough to count it in its sender's sequence. */
export interface Sender {
  origin: string;
  epoch: string;
  seq: number;
}

export type DecodeResult =
  | { ok: true; message: Envelope }
  /** `sender` is set for a well-formed message of a type this version does not know (`unknown_type`). */
  | { ok: false; reason: RejectReason; detail: string; sender?: Sender };

export function isHeartbeat(message: Envelope): message is HeartbeatMessage {
  return 'type' in message && message.type === 'heartbeat';
}

export function isBatch(message: Envelope): message is BatchMessage {
  return 'type' in message && message.type === 'batch';
}

export function isBulk(message: Envelope): message is BulkMessage {
  return 'type' in message && (message.type === 'tags' || message.type === 'clear');
}

/** The key invalidations a message carries, each as a plain v1 invalidation (none for a heartbeat, tags or clear). */
export function invalidationsOf(message: Envelope): InvalidationMessage[] {
  if (isHeartbeat(message) || isBulk(message)) return [];
  if (!isBatch(message)) return [message];
  const { type: _type, items, ...header } = message;
  return items.map((item) => ({ ...header, ...item }));
}

export function encodeEnvelope(message: Envelope): string {
  return JSON.stringify(message);
}

/** Validates a raw channel payload; never throws. */
export function decodeEnvelope(raw: string, scope: CacheScope): DecodeResult {
  if (raw.length > MAX_MESSAGE_BYTES) return reject('oversized', `${raw.length} bytes`);
  let data: unknown;
  try {
    data = JSON.parse(raw);
  } catch (error) {
    return reject('malformed_json', (error as Error).message);
  }
  if (typeof data !== 'object' || data === null || Array.isArray(data)) {
    return reject('invalid_envelope', 'not a JSON object');
  }
  if ((data as { v?: unknown }).v !== ENVELOPE_VERSION) {
    return reject('unsupported_version', `v=${JSON.stringify((data as { v?: unknown }).v)}`);
  }
  const object = data as Record<string, unknown>;
  if (object.type === 'heartbeat') {
    if (isPlainHeartbeat(object)) return { ok: true, message: object };
    const heartbeat = heartbeatSchema.safeParse(data);
    return heartbeat.success ? { ok: true, message: heartbeat.data } : invalid(heartbeat.error);
  }
  if (typeof object.type === 'string' && !KNOWN_TYPES.has(object.type)) return unknownType(object, scope);
  if (object.type === 'tags' || object.type === 'clear') {
    const parsed = (object.type === 'tags' ? tagsSchema : clearSchema).safeParse(data);
    if (!parsed.success) return invalid(parsed.error);
    const bulk: BulkMessage = parsed.data;
    if (bulk.cache !== scope.name) return reject('foreign_cache', `cache=${bulk.cache}`);
    if (bulk.type === 'tags' && scope.isTag)
      for (const tag of bulk.tags)
        if (!scope.isTag(tag)) return reject('unknown_tag', `tag ${tag.slice(0, 64)} is not a tag of this cache`);
    return { ok: true, message: bulk };
  }
  let message: InvalidationMessage | BatchMessage;
  if (object.type === undefined && isPlainInvalidation(object)) message = object;
  else if (object.type === 'batch' && isPlainBatch(object)) message = object;
  else {
    const parsed = object.type === 'batch' ? batchSchema.safeParse(data) : invalidationSchema.safeParse(data);
    if (!parsed.success) return invalid(parsed.error);
    message = parsed.data;
  }
  if (message.cache !== scope.name) return reject('foreign_cache', `cache=${message.cache}`);
  // One foreign key rejects the whole message: whoever sent it cannot be trusted with the rest.
  if (isBatch(message)) {
    for (const item of message.items) {
      const mismatch = keyMismatch(item, scope);
      if (mismatch) return mismatch;
    }
  } else {
    const mismatch = keyMismatch(message, scope);
    if (mismatch) return mismatch;
  }
  return { ok: true, message };
}

/**
 * A message of a type a newer sender knows and this version does not: rejected, but with its
 * sender and number when those are well formed, so the receiver counts it as missed (its change
 * was not applied) and recovers as from any other gap.
 */
function unknownType(object: Record<string, unknown>, scope: CacheScope): DecodeResult {
  const detail = `type ${JSON.stringify(object.type).slice(0, 40)}`;
  if (object.cache !== undefined && object.cache !== scope.name)
    return reject('foreign_cache', `cache=${String(object.cache).slice(0, 64)}`);
  if (!hasIdentity(object)) return reject('unknown_type', detail);
  const { origin, epoch, seq } = object as unknown as Sender;
  return { ok: false, reason: 'unknown_type', detail, sender: { origin, epoch, seq } };
}

function keyMismatch({ keys, id }: { keys: string[]; id: string }, scope: CacheScope): DecodeResult | undefined {
  for (const key of keys)
    if (!scope.isKeyOf(key, id)) return reject('key_mismatch', `key ${key} is not a key of ${id}`);
  return undefined;
}

// The schemas above decide what is valid. These checks accept only what they accept, for the
// three shapes every sender here sends, without the schemas' copies and result objects (3.4 KB a
// message, most of the receive path's garbage; a batch through its schema took 50-300 µs);
// anything they do not accept goes to the schemas, which accept it or say why not.
// envelope.test.ts holds them to the schemas on mutated messages.
const INVALIDATION_KEYS = new Set(Object.keys(invalidationSchema.shape));
const HEARTBEAT_KEYS = new Set(Object.keys(heartbeatSchema.shape));
const BATCH_KEYS = new Set(Object.keys(batchSchema.shape));
const BATCH_ITEM_KEYS = new Set(Object.keys(batchItemSchema.shape));
const isText = (value: unknown, max: number) => typeof value === 'string' && value.length >= 1 && value.length <= max;
const isCount = (value: unknown) =>
  typeof value === 'number' && Number.isInteger(value) && value > 0 && value <= Number.MAX_SAFE_INTEGER;
const isTime = (value: unknown) => typeof value === 'number' && Number.isFinite(value) && value > 0;

function onlyKeys(object: Record<string, unknown>, allowed: Set<string>): boolean {
  for (const key in object) if (!Object.hasOwn(object, key) || !allowed.has(key)) return false;
  return true;
}

function hasIdentity(object: Record<string, unknown>): boolean {
  return (
    object.v === ENVELOPE_VERSION &&
    isText(object.origin, 128) &&
    isText(object.epoch, 64) &&
    isCount(object.seq) &&
    isTime(object.publishedAt)
  );
}

/** What a plain invalidation and a batch item share: keys, id, version, op, committedAt. */
function hasChange(object: Record<string, unknown>): boolean {
  const { keys, op } = object;
  if (!isText(object.id, 128) || !isCount(object.version) || !isTime(object.committedAt)) return false;
  if (op !== 'create' && op !== 'update' && op !== 'delete') return false;
  if (!Array.isArray(keys) || keys.length < 1 || keys.length > MAX_KEYS_PER_MESSAGE) return false;
  for (const key of keys) if (!isText(key, 1024)) return false;
  return true;
}

/** The header of a plain invalidation or a batch: identity, cache and trace context. */
function hasHeader(object: Record<string, unknown>): boolean {
  const { traceparent, tracestate } = object;
  if (!hasIdentity(object) || !isText(object.cache, 64)) return false;
  if (traceparent !== undefined && !(typeof traceparent === 'string' && TRACEPARENT.test(traceparent))) return false;
  return tracestate === undefined || (typeof tracestate === 'string' && tracestate.length <= 512);
}

/** A plain invalidation the schema would accept (false: ask the schema). */
export function isPlainInvalidation(object: Record<string, unknown>): object is InvalidationMessage {
  return onlyKeys(object, INVALIDATION_KEYS) && hasHeader(object) && hasChange(object);
}

/** A batch the schema would accept (false: ask the schema). */
export function isPlainBatch(object: Record<string, unknown>): object is BatchMessage {
  const { items } = object;
  if (object.type !== 'batch' || !onlyKeys(object, BATCH_KEYS) || !hasHeader(object)) return false;
  if (!Array.isArray(items) || items.length < 2) return false;
  let keys = 0;
  for (const item of items) {
    if (typeof item !== 'object' || item === null || Array.isArray(item)) return false;
    if (!onlyKeys(item, BATCH_ITEM_KEYS) || !hasChange(item)) return false;
    keys += (item.keys as unknown[]).length;
  }
  return keys <= MAX_KEYS_PER_MESSAGE;
}

/** A heartbeat the schema would accept (false: ask the schema). */
export function isPlainHeartbeat(object: Record<string, unknown>): object is HeartbeatMessage {
  return onlyKeys(object, HEARTBEAT_KEYS) && hasIdentity(object) && object.type === 'heartbeat';
}

/** The schemas' own verdict on a parsed payload, for holding the fast checks to them in tests. */
export function schemaAccepts(data: unknown): boolean {
  const type = (data as { type?: unknown } | null)?.type;
  const schema =
    type === 'heartbeat'
      ? heartbeatSchema
      : type === 'batch'
        ? batchSchema
        : type === 'tags'
          ? tagsSchema
          : type === 'clear'
            ? clearSchema
            : invalidationSchema;
  return schema.safeParse(data).success;
}

function reject(reason: RejectReason, detail: string): DecodeResult {
  return { ok: false, reason, detail };
}

function invalid(error: z.ZodError): DecodeResult {
  const first = error.issues[0];
  return reject('invalid_envelope', first ? `${first.path.join('.') || '(root)'}: ${first.message}` : 'invalid');
}
