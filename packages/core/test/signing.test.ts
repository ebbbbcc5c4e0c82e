import { EnvelopeSigner, unsignedBody } from '../src/sync/signing';

const signer = new EnvelopeSigner([
  { id: 'k1', secret: Buffer.alloc(32, 1) },
  { id: 'k2', secret: Buffer.alloc(32, 2) },
]);
// A body with what looks like a signature trailer in its middle.
const body = `{"v":1,"kid":"k1","sig":"${'A'.repeat(43)}","seq":1}`;

describe('EnvelopeSigner', () => {
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
