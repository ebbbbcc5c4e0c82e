import { type AddressInfo, connect } from 'node:net';
import { MemoryBus } from '@local-cache-sync/core/testing';
import { encodeEnvelope } from '@local-cache-sync/core/wire';
import { waitFor } from '../../local-stack/processes';
import { createAdminServer } from '../../src/chaos/admin-server';
import { ChaosSwitch } from '../../src/chaos/chaos-switch';
import { FaultyTransport } from '../../src/chaos/faulty-transport';
import { sampleMessage } from '../harness/fixtures';

const JSON_WITH_TOKEN = { authorization: 'Bearer test-token-0123456789', 'content-type': 'application/json' };

describe('chaos switch, fault-injecting transport and the admin API', () => {
  let crashes = 0;
  const bus = new MemoryBus();
  const faulty = new FaultyTransport(bus.transport());
  const receiver = bus.transport();
  const got: string[] = [];
  const chaos = new ChaosSwitch(faulty, () => {
    crashes += 1;
  });
  const TOKEN = 'test-token-0123456789';
  const server = createAdminServer(chaos, TOKEN);
  let base = '';
  beforeAll(async () => {
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    await receiver.subscribe((payload) => got.push(payload));
    await faulty.subscribe(() => undefined);
  });
  afterAll(() => new Promise((resolve) => server.close(resolve)));

  const call = async (method: string, path: string, headers: Record<string, string> = JSON_WITH_TOKEN) => {
    const response = await fetch(`${base}${path}`, { method, headers });
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  };
  const invalidation = (seq: number) => encodeEnvelope(sampleMessage({ seq }));
  const heartbeat = (seq: number) =>
    encodeEnvelope({ v: 1, type: 'heartbeat', origin: 'book-1', epoch: 'a1b2c3', seq, publishedAt: Date.now() });
  const seqs = () => got.map((payload) => (JSON.parse(payload) as { seq: number }).seq);

  it('crashes once after the next commit', async () => {
    expect((await call('POST', '/chaos/crash-before-publish')).body).toMatchObject({ crashBeforePublish: true });
    chaos.afterCommit();
    chaos.afterCommit();
    expect(crashes).toBe(1);
  });

  it('loses the next N invalidations on the wire, not the heartbeats between them', async () => {
    got.length = 0;
    await call('POST', '/chaos/drop-publishes?count=2');
    const delivered = [
      await faulty.publish(invalidation(1)),
      await faulty.publish(heartbeat(2)),
      await faulty.appendAndPublish(invalidation(3)),
      await faulty.publish(invalidation(4)),
    ];
    expect(delivered).toEqual([0, 2, 0, 2]);
    await waitFor(() => got.length === 2, { message: 'two delivered' });
    expect(seqs()).toEqual([2, 4]);
  });

  it('holds back the next N invalidations, and what follows waits behind them (no reordering)', async () => {
    got.length = 0;
    await call('POST', '/chaos/delay-publishes?count=1&ms=250');
    const sent = [faulty.publish(invalidation(5)), faulty.publish(heartbeat(6)), faulty.publish(invalidation(7))];
    expect(got).toEqual([]);
    await Promise.all(sent);
    await waitFor(() => got.length === 3, { message: 'three delivered' });
    expect(seqs()).toEqual([5, 6, 7]);
  });

  it('pauses the subscriber: down, then up again, and what was published meanwhile is lost to it', async () => {
    const states: string[] = [];
    faulty.onSubscriberState((state) => states.push(state));
    await call('POST', '/chaos/pause-subscriber?ms=300');
    expect(faulty.subscriberState).toBe('down');
    expect(await receiver.publish(heartbeat(8))).toBe(1); // the receiver itself only, not the paused one
    await waitFor(() => faulty.subscriberState === 'up', { message: 'subscribed again' });
    expect(states).toEqual(['down', 'up']);
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

  it.each([
    ['no token', { 'content-type': 'application/json' }, 401],
    ['a wrong token', { authorization: 'Bearer nope', 'content-type': 'application/json' }, 401],
    ['a token one character short', { ...JSON_WITH_TOKEN, authorization: 'Bearer test-token-012345678' }, 401],
    ['no content type', { authorization: JSON_WITH_TOKEN.authorization }, 415],
    ['a form content type', { ...JSON_WITH_TOKEN, 'content-type': 'application/x-www-form-urlencoded' }, 415],
  ])('POST with %s is refused, and nothing armed', async (_what, headers, status) => {
    const response = await call('POST', '/chaos/crash-before-publish', headers);
    expect(response.status).toBe(status);
    expect(chaos.state().crashBeforePublish).toBe(false);
  });

  /** Raw HTTP, for what fetch refuses to send. */
  const rawRequest = (text: string) =>
    new Promise<string>((resolve) => {
      const socket = connect(Number(new URL(base).port), '127.0.0.1', () => socket.end(text));
      let answer = '';
      socket.on('data', (chunk) => (answer += chunk));
      socket.on('close', () => resolve(answer));
      socket.on('error', () => resolve(answer));
    });

  it.each([
    ['a path that is no URL', 'GET //%%% HTTP/1.1\r\nHost: x\r\n\r\n', /^HTTP\/1\.1 40[01]/],
    ['a bad escape', 'GET /%zz HTTP/1.1\r\nHost: x\r\n\r\n', /^HTTP\/1\.1 40[01]/],
    ['an unknown method', 'BREW /chaos HTTP/1.1\r\nHost: x\r\n\r\n', /^HTTP\/1\.1 40[015]/],
    ['no request line', 'GARBAGE\r\n\r\n', /^HTTP\/1\.1 400/],
    ['a 20 KB header', `GET /chaos HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`, /^HTTP\/1\.1 4\d\d/],
    [
      'a truncated body',
      `POST /chaos/crash-before-publish HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\n{"a"`,
      /^HTTP\/1\.1 401/,
    ],
  ])('survives %s', async (_what, request, answer) => {
    expect(await rawRequest(request)).toMatch(answer);
    // Still up, and nothing armed.
    expect((await call('GET', '/chaos')).body).toMatchObject({ crashBeforePublish: false });
  });
});
