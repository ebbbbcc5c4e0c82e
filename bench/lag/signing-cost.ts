import { EnvelopeSigner, encodeEnvelope } from '@local-cache-sync/core/wire';

export interface SigningCost {
  /** Bytes of the message signed (a typical single invalidation with trace context). */
  messageBytes: number;
  signNs: number;
  verifyNs: number;
}

/** HMAC-SHA256 sign and verify of one typical invalidation message, in nanoseconds each. */
export function signingCost(rounds = 200_000): SigningCost {
  const signer = new EnvelopeSigner([{ id: 'bench', secret: Buffer.alloc(32, 7) }]);
  const body = encodeEnvelope({
    v: 1,
    cache: 'book',
    keys: ['id:6566f0c1a1b2c3d4e5f60718', 'name:The Left Hand of Darkness'],
    id: '6566f0c1a1b2c3d4e5f60718',
    version: 12,
    op: 'update',
    origin: 'book-1',
    epoch: 'a1b2c3d4e5f6',
    seq: 123_456,
    committedAt: 1_764_000_000_000.25,
    publishedAt: 1_764_000_000_001.5,
    traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
  });
  const signed = signer.sign(body);
  const time = (fn: () => unknown) => {
    for (let i = 0; i < Math.min(rounds, 20_000); i += 1) fn();
    const started = process.hrtime.bigint();
    for (let i = 0; i < rounds; i += 1) fn();
    return Number(process.hrtime.bigint() - started) / rounds;
  };
  const verified = signer.verify(signed);
  if (!verified.ok || verified.body !== body) throw new Error('signing bench: verify failed');
  return {
    messageBytes: signed.length,
    signNs: time(() => signer.sign(body)),
    verifyNs: time(() => signer.verify(signed)),
  };
}
