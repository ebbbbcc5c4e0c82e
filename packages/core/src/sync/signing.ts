import { hash, timingSafeEqual } from 'node:crypto';

/** A signing key: its id travels in every message, its secret never does. */
export interface SigningKey {
  id: string;
  secret: Buffer;
}

export const KEY_ID = /^[A-Za-z0-9_.-]{1,32}$/;
/** Secrets shorter than this are refused at start: HMAC-SHA256 is only as strong as its key. */
export const MIN_SECRET_BYTES = 16;

export type VerifyResult =
  | { ok: true; body: string }
  | { ok: false; reason: 'unsigned' | 'unknown_key' | 'bad_signature' };

// The signature is appended as the last two members of the JSON object, so a signed message is
// still one JSON object; it covers the exact bytes of the message without them.
const TRAILER_START = ',"kid":"';
// Sticky, tried only where the trailer can start (the last TRAILER_START: neither a key id nor a
// signature can hold one), so the message is not scanned for it from the start.
const TRAILER = /,"kid":"([A-Za-z0-9_.-]{1,32})","sig":"([A-Za-z0-9_-]{43})"\}$/y;

function trailerOf(raw: string): RegExpExecArray | null {
  const at = raw.lastIndexOf(TRAILER_START);
  if (at < 0) return null;
  TRAILER.lastIndex = at;
  return TRAILER.exec(raw);
}

const BLOCK = 64;

/**
 * HMAC-SHA256 (RFC 2104) from two one-shot SHA-256 digests over key blocks made once. Node's
 * createHmac sets up an OpenSSL MAC context for every message, which cost a replica about 5 µs of
 * its 10 µs verify; crypto.hash does not. signing.test holds this to createHmac and to RFC 4231.
 */
class HmacSha256 {
  /** The key block XOR ipad, then the body being signed. */
  private scratch = Buffer.alloc(BLOCK + 1024);
  private readonly inner: Buffer;
  /** The key block XOR opad, then the inner digest. */
  private readonly outer: Buffer;

  constructor(secret: Buffer) {
    const key = Buffer.alloc(BLOCK);
    (secret.length > BLOCK ? hash('sha256', secret, 'buffer') : secret).copy(key);
    const pad = (byte: number) => Buffer.from(key.map((b) => b ^ byte));
    this.inner = pad(0x36);
    this.outer = Buffer.concat([pad(0x5c), Buffer.alloc(32)]);
    this.inner.copy(this.scratch);
  }

  digest(body: string): Buffer {
    const length = BLOCK + Buffer.byteLength(body);
    if (length > this.scratch.length) {
      this.scratch = Buffer.alloc(length);
      this.inner.copy(this.scratch);
    }
    this.scratch.write(body, BLOCK, 'utf8');
    hash('sha256', this.scratch.subarray(0, length), 'buffer').copy(this.outer, BLOCK);
    return hash('sha256', this.outer, 'buffer');
  }
}

/**
 * HMAC-SHA256 over a message's exact bytes with a key id. The first key signs, every key
 * verifies, so keys rotate with no downtime: add the new key second everywhere, then first, then
 * drop the old one.
 */
export class EnvelopeSigner {
  private readonly byId: Map<string, HmacSha256>;
  private readonly signing: { id: string; secret: HmacSha256 };

  constructor(keys: SigningKey[]) {
    if (keys.length === 0) throw new Error('no signing keys');
    this.byId = new Map(keys.map((k) => [k.id, new HmacSha256(k.secret)]));
    this.signing = { id: keys[0]!.id, secret: this.byId.get(keys[0]!.id)! };
  }

  /** `body` is one encoded JSON object. */
  sign(body: string): string {
    const { id, secret } = this.signing;
    return `${body.slice(0, -1)},"kid":"${id}","sig":"${secret.digest(body).toString('base64url')}"}`;
  }

  verify(raw: string): VerifyResult {
    const trailer = trailerOf(raw);
    if (!trailer) return { ok: false, reason: 'unsigned' };
    const secret = this.byId.get(trailer[1]!);
    if (!secret) return { ok: false, reason: 'unknown_key' };
    const body = `${raw.slice(0, trailer.index)}}`;
    const given = Buffer.from(trailer[2]!, 'base64url');
    const expected = secret.digest(body);
    return given.length === expected.length && timingSafeEqual(given, expected)
      ? { ok: true, body }
      : { ok: false, reason: 'bad_signature' };
  }
}

/** A receiver without keys accepts signed messages too (it verifies nothing): the body without the signature. */
export function unsignedBody(raw: string): string {
  const trailer = trailerOf(raw);
  return trailer ? `${raw.slice(0, trailer.index)}}` : raw;
}

/** Parses `id:secret,id:secret` (the first signs); throws a message that never contains a secret. */
export function parseSigningKeys(list: string): SigningKey[] {
  const keys = list
    .split(',')
    .map((entry) => entry.trim())
    .filter(Boolean)
    .map((entry, i) => {
      const colon = entry.indexOf(':');
      const id = colon > 0 ? entry.slice(0, colon) : '';
      const secret = colon > 0 ? entry.slice(colon + 1) : '';
      if (!KEY_ID.test(id))
        throw new Error(`key ${i + 1}: the id must be 1-32 letters, digits, dot, dash or underscore`);
      if (Buffer.byteLength(secret) < MIN_SECRET_BYTES) {
        throw new Error(`key ${id}: the secret must be at least ${MIN_SECRET_BYTES} bytes`);
      }
      return { id, secret: Buffer.from(secret) };
    });
  if (keys.length === 0) throw new Error('give at least one id:secret');
  if (new Set(keys.map((k) => k.id)).size !== keys.length) throw new Error('key ids must be unique');
  return keys;
}
