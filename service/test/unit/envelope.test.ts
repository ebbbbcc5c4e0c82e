import { decodeEnvelope, encodeEnvelope, MAX_MESSAGE_BYTES } from '../../src/sync/envelope';
import { sampleMessage } from '../harness/fixtures';

const reasonOf = (raw: string) => {
  const result = decodeEnvelope(raw, 'book');
  return result.ok ? 'ok' : result.reason;
};

describe('envelope v1', () => {
  it('round-trips an invalidation and a heartbeat', () => {
    const message = sampleMessage();
    expect(decodeEnvelope(encodeEnvelope(message), 'book')).toEqual({ ok: true, message });
    const heartbeat = { v: 1, type: 'heartbeat', origin: 'book-2', epoch: 'e', seq: 1, publishedAt: 1 } as const;
    expect(decodeEnvelope(encodeEnvelope(heartbeat), 'book')).toEqual({ ok: true, message: heartbeat });
  });

  it.each([
    ['not JSON', '{"v":1,', 'malformed_json'],
    ['a JSON array', '[1,2]', 'invalid_envelope'],
    ['a JSON string', '"book:1"', 'invalid_envelope'],
    ['the seed format (a bare key)', 'book:6566f0c1a1b2c3d4e5f60718', 'malformed_json'],
    ['another envelope version', JSON.stringify(sampleMessage({ v: 2 as 1 })), 'unsupported_version'],
    ['no version field', JSON.stringify({ ...sampleMessage(), v: undefined }), 'unsupported_version'],
    ['another cache', JSON.stringify(sampleMessage({ cache: 'author' })), 'foreign_cache'],
    ['a key of another book', JSON.stringify(sampleMessage({ keys: ['id:000000000000000000000000'] })), 'key_mismatch'],
    ['no keys', JSON.stringify(sampleMessage({ keys: [] })), 'invalid_envelope'],
    ['a string version', JSON.stringify({ ...sampleMessage(), version: '4' }), 'invalid_envelope'],
    ['a fractional seq', JSON.stringify(sampleMessage({ seq: 1.5 })), 'invalid_envelope'],
    ['an unknown op', JSON.stringify({ ...sampleMessage(), op: 'truncate' }), 'invalid_envelope'],
    ['an unknown field', JSON.stringify({ ...sampleMessage(), extra: true }), 'invalid_envelope'],
    ['a bad traceparent', JSON.stringify(sampleMessage({ traceparent: 'xyz' })), 'invalid_envelope'],
    ['a heartbeat without seq', JSON.stringify({ v: 1, type: 'heartbeat', origin: 'a', epoch: 'e', publishedAt: 1 }), 'invalid_envelope'],
    ['an oversized payload', JSON.stringify(sampleMessage({ origin: 'x'.repeat(MAX_MESSAGE_BYTES) })), 'oversized'],
  ])('rejects %s', (_name, raw, reason) => {
    expect(reasonOf(raw)).toBe(reason);
  });
});
