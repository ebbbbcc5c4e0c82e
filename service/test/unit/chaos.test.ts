import type { AddressInfo } from 'node:net';
import { createAdminServer } from '../../src/chaos/admin-server';
import { ChaosSwitch } from '../../src/chaos/chaos-switch';

describe('chaos switch and its admin API', () => {
  let crashes = 0;
  const pauses: number[] = [];
  const chaos = new ChaosSwitch(
    () => {
      crashes += 1;
    },
    async (ms) => {
      pauses.push(ms);
    },
  );
  const server = createAdminServer(chaos);
  let base = '';
  beforeAll(async () => {
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise((resolve) => server.close(resolve)));

  const call = async (method: string, path: string) => {
    const response = await fetch(`${base}${path}`, { method });
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  };

  it('arms each fault once, and disarms it when used', async () => {
    expect((await call('POST', '/chaos/crash-before-publish')).body).toMatchObject({ crashBeforePublish: true });
    chaos.afterCommit();
    chaos.afterCommit();
    expect(crashes).toBe(1);

    await call('POST', '/chaos/drop-publishes?count=2');
    expect([chaos.shouldDropPublish(), chaos.shouldDropPublish(), chaos.shouldDropPublish()]).toEqual([
      true,
      true,
      false,
    ]);

    await call('POST', '/chaos/delay-publishes?count=1&ms=250');
    expect([chaos.publishDelayMs(), chaos.publishDelayMs()]).toEqual([250, 0]);

    await call('POST', '/chaos/pause-subscriber?ms=1500');
    expect(pauses).toEqual([1500]);
    expect((await call('GET', '/chaos')).body).toEqual({
      crashBeforePublish: false,
      dropNextPublishes: 0,
      delayNextPublishes: 0,
      delayMs: 250,
    });
  });

  it.each([
    ['POST', '/chaos/drop-publishes?count=-1', 400],
    ['POST', '/chaos/drop-publishes?count=abc', 400],
    ['POST', '/chaos/delay-publishes?count=1', 400],
    ['POST', '/chaos/pause-subscriber', 400],
    ['POST', '/chaos/unknown', 404],
    ['GET', '/chaos/crash-before-publish', 405],
  ])('%s %s -> %i with a JSON error', async (method, path, status) => {
    const response = await call(method, path);
    expect(response.status).toBe(status);
    expect(response.body).toEqual({ error: { code: expect.any(String), message: expect.any(String) } });
  });
});
