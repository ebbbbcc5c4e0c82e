import { createHmac, randomBytes } from 'node:crypto';
import { EnvelopeSigner, unsignedBody } from '../src/sync/signing';

const signer = new EnvelopeSigner([
  { id: 'k1', secret: Buffer.alloc(32, 1) },
  { id: 'k2', secret: Buffer.alloc(32, 2) },
]);
// A body with what looks like a signature trailer in its middle.
const body = `{"v":1,"kid":"k1","sig":"${'A'.repeat(43)}","seq":1}`;

/** The signature sign() puts on `data`, as hex. */
const signatureOf = (secret: Buffer, data: string) => {
  const signed = new EnvelopeSigner([{ id: 'k', secret }]).sign(data);
  return Buffer.from(signed.slice(signed.lastIndexOf('"sig":"') + 7, -2), 'base64url').toString('hex');
};

describe('EnvelopeSigner', () => {
  it('signs with HMAC-SHA256: the RFC 4231 test vectors (a short key, a key longer than a block)', () => {
    expect(signatureOf(Buffer.alloc(20, 0x0b), 'Hi There')).toBe(
      'b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7',
    );
    expect(signatureOf(Buffer.from('Jefe'), 'what do ya want for nothing?')).toBe(
      '5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843',
    );
    expect(signatureOf(Buffer.alloc(131, 0xaa), 'Test Using Larger Than Block-Size Key - Hash Key First')).toBe(
      '60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54',
    );
  });

  it("agrees with node:crypto's createHmac on keys around the block size and bodies short, long and multi-byte", () => {
    for (const keyBytes of [16, 63, 64, 65, 200]) {
      const secret = randomBytes(keyBytes);
      const keyed = new EnvelopeSigner([{ id: 'k', secret }]);
      for (const data of ['{}', `{"a":"${'é'.repeat(700)}"}`, `{"a":"${'x'.repeat(5000)}"}`, '{"b":"日本"}', '{}']) {
        const expected = createHmac('sha256', secret).update(data).digest('base64url');
        const signed = keyed.sign(data);
        expect(signed.endsWith(`"sig":"${expected}"}`)).toBe(true);
        expect(keyed.verify(signed)).toEqual({ ok: true, body: data });
      }
    }
  });

  it('verifies its own signature and gives back the exact body, whatever the body holds', () => {
    const signed = signer.sign(body);
    expect(signer.verify(signed)).toEqual({ ok: true, body });
    expect(unsignedBody(signed)).toBe(body);
  });

  it('refuses a changed body, an unknown key, a broken trailer and an unsigned message', () => {
    const signed = signer.sign(body);
    expect(signer.verify(signed.replace('"seq":1', '"seq":2'))).toEqual({ ok: false, reason: 'bad_signature' });
    const kid = signed.lastIndexOf('"kid":"k1"');
    const otherKey = `${signed.slice(0, kid)}"kid":"k9"${signed.slice(kid + 10)}`;
    expect(signer.verify(otherKey)).toEqual({ ok: false, reason: 'unknown_key' });
    const last = signed.at(-3) === 'A' ? 'B' : 'A';
    expect(signer.verify(`${signed.slice(0, -3)}${last}"}`)).toEqual({ ok: false, reason: 'bad_signature' });
    expect(signer.verify(`${signed} `)).toEqual({ ok: false, reason: 'unsigned' });
    expect(signer.verify(signed.slice(0, -1))).toEqual({ ok: false, reason: 'unsigned' });
    expect(signer.verify(body)).toEqual({ ok: false, reason: 'unsigned' });
    expect(unsignedBody(body)).toBe(body);
  });

  it('verifies with any of its keys, signs with the first', () => {
    const second = new EnvelopeSigner([{ id: 'k2', secret: Buffer.alloc(32, 2) }]);
    const signed = second.sign(body);
    expect(signer.verify(signed)).toEqual({ ok: true, body });
    expect(signer.sign(body)).toContain('"kid":"k1"');
  });
});
