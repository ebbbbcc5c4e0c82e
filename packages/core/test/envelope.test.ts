import {
  decodeEnvelope,
  encodeEnvelope,
  invalidationsOf,
  isPlainBatch,
  isPlainHeartbeat,
  isPlainInvalidation,
  MAX_KEYS_PER_MESSAGE,
  MAX_MESSAGE_BYTES,
  schemaAccepts,
} from '../src/sync/envelope';
import { SCOPE, sampleMessage } from './fixtures';

const reasonOf = (raw: string) => {
  const result = decodeEnvelope(raw, SCOPE);
  return result.ok ? 'ok' : result.reason;
};

describe('envelope v1', () => {
  it('round-trips an invalidation and a heartbeat', () => {
    const message = sampleMessage();
    expect(decodeEnvelope(encodeEnvelope(message), SCOPE)).toEqual({ ok: true, message });
    const heartbeat = { v: 1, type: 'heartbeat', origin: 'book-2', epoch: 'e', seq: 1, publishedAt: 1 } as const;
    expect(decodeEnvelope(encodeEnvelope(heartbeat), SCOPE)).toEqual({ ok: true, message: heartbeat });
  });

  const OTHER = '000000000000000000000000';
  const batchOf = (...items: object[]) => {
    const { keys: _k, id: _i, version: _v, op: _o, committedAt: _c, ...header } = sampleMessage();
    return { ...header, type: 'batch', items };
  };
  const item = (id: string, version = 2) => ({ keys: [`id:${id}`], id, version, op: 'update', committedAt: 1 });

  it('round-trips a batch, and unpacks it into plain invalidations under its header', () => {
    const batch = batchOf(item(sampleMessage().id), item(OTHER, 7));
    const decoded = decodeEnvelope(encodeEnvelope(batch as never), SCOPE);
    expect(decoded).toEqual({ ok: true, message: batch });
    const unpacked = decoded.ok ? invalidationsOf(decoded.message) : [];
    expect(unpacked.map((m) => [m.id, m.version, m.seq, m.origin])).toEqual([
      [sampleMessage().id, 2, batch.seq, batch.origin],
      [OTHER, 7, batch.seq, batch.origin],
    ]);
  });

  it.each([
    ['a batch of one', () => batchOf(item(OTHER)), 'invalid_envelope'],
    [
      'a batch with a key of another book',
      () => batchOf(item(OTHER), { ...item(OTHER), keys: [`id:${'1'.repeat(24)}`] }),
      'key_mismatch',
    ],
    [
      'a batch over the key limit',
      () => batchOf(...Array.from({ length: MAX_KEYS_PER_MESSAGE + 1 }, () => item(OTHER))),
      'invalid_envelope',
    ],
    [
      'a batch item with an unknown field',
      () => batchOf(item(OTHER), { ...item(OTHER), extra: 1 }),
      'invalid_envelope',
    ],
  ])('rejects %s', (_name, make, reason) => {
    expect(reasonOf(JSON.stringify(make()))).toBe(reason);
  });

  it.each([
    ['not JSON', '{"v":1,', 'malformed_json'],
    ['a JSON array', '[1,2]', 'invalid_envelope'],
    ['a JSON string', '"book:1"', 'invalid_envelope'],
    ['the classic bare-key format', 'book:6566f0c1a1b2c3d4e5f60718', 'malformed_json'],
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
    [
      'a heartbeat without seq',
      JSON.stringify({ v: 1, type: 'heartbeat', origin: 'a', epoch: 'e', publishedAt: 1 }),
      'invalid_envelope',
    ],
    ['an oversized payload', JSON.stringify(sampleMessage({ origin: 'x'.repeat(MAX_MESSAGE_BYTES) })), 'oversized'],
  ])('rejects %s', (_name, raw, reason) => {
    expect(reasonOf(raw)).toBe(reason);
  });
});

describe('the fast checks of the common shapes', () => {
  // Values that sit on every edge the schemas draw: lengths, signs, integers, finiteness, types.
  const VALUES: unknown[] = [
    undefined,
    null,
    true,
    0,
    -1,
    1,
    1.5,
    2 ** 53,
    Number.MAX_SAFE_INTEGER,
    Number.POSITIVE_INFINITY,
    '',
    'x',
    '1',
    'x'.repeat(64),
    'x'.repeat(65),
    'x'.repeat(128),
    'x'.repeat(129),
    'x'.repeat(512),
    'x'.repeat(513),
    'x'.repeat(1024),
    'x'.repeat(1025),
    'create',
    'update',
    'delete',
    'Update',
    'heartbeat',
    'batch',
    '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
    '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-0',
    '00-0AF7651916CD43DD8448EB211C80319C-b7ad6b7169203331-01',
    [],
    ['id:a'],
    [''],
    ['x'.repeat(1025)],
    Array.from({ length: MAX_KEYS_PER_MESSAGE }, (_, i) => `name:${i}`),
    Array.from({ length: MAX_KEYS_PER_MESSAGE + 1 }, (_, i) => `name:${i}`),
    [1],
    {},
  ];
  const heartbeat = { v: 1, type: 'heartbeat', origin: 'book-2', epoch: 'e', seq: 1, publishedAt: 1 };
  /** Every field of `base` set to every value, every field removed, and keys added that do not belong. */
  function* mutations(base: Record<string, unknown>) {
    yield base;
    for (const field of [...Object.keys(base), 'traceparent', 'tracestate', 'type', 'extra', '__proto__']) {
      for (const value of VALUES) {
        // Through JSON, as a receiver gets it: undefined drops the field, Infinity is written 1e400.
        const raw = JSON.stringify({ ...base, [field]: value === Number.POSITIVE_INFINITY ? '__inf__' : value });
        yield JSON.parse(raw.replace('"__inf__"', '1e400')) as Record<string, unknown>;
      }
    }
  }

  const item = (id: string, keys = [`id:${id}`]) => ({ keys, id, version: 3, op: 'update', committedAt: 2 });
  const batch = {
    v: 1,
    type: 'batch',
    cache: 'book',
    origin: 'book-1',
    epoch: 'e',
    seq: 2,
    publishedAt: 1,
    items: [item('a'), item('b')],
  };
  const names = (n: number, from = 0) => Array.from({ length: n }, (_, i) => `name:${from + i}`);
  /** The batch with its first item mutated like a message, and item lists on the edges of the schema. */
  function* batchItemMutations() {
    for (const data of mutations(item('a'))) yield { ...batch, items: [data, item('b')] };
    for (const items of [
      [],
      [item('a')],
      [item('a'), item('b'), item('c')],
      [item('a'), 'x'],
      [item('a'), null],
      [item('a'), []],
      [item('a'), [item('b')]],
      [item('a', names(128)), item('b', names(128, 128))],
      [item('a', names(129)), item('b', names(128, 129))],
      [item('a', names(200)), item('b', names(200, 200))],
    ]) {
      yield { ...batch, items };
    }
  }

  it('accept only what the schemas accept, and accept every plain message the schemas do', () => {
    let accepted = 0;
    let checked = 0;
    for (const [base, fast, more] of [
      [sampleMessage(), isPlainInvalidation, []],
      [heartbeat, isPlainHeartbeat, []],
      [batch, isPlainBatch, batchItemMutations()],
    ] as const) {
      for (const data of [...mutations(base as unknown as Record<string, unknown>), ...more] as Record<
        string,
        unknown
      >[]) {
        checked += 1;
        const schema = schemaAccepts(data);
        const covered =
          base === heartbeat
            ? data.type === 'heartbeat'
            : base === batch
              ? data.type === 'batch'
              : data.type === undefined;
        // Never more lenient than the schemas; exactly as lenient on the shapes they cover.
        // other branch: the fast check declined a shape it does not cover, and the schemas judge it.
        if (fast(data) || covered) expect({ data, fast: fast(data) }).toEqual({ data, fast: schema });
        if (schema) accepted += 1;
      }
    }
    // The mutations reach both sides of the line.
    expect(checked).toBeGreaterThan(1500);
    expect(accepted).toBeGreaterThan(80);
    expect(checked - accepted).toBeGreaterThan(800);
  });
});
