import { waitFor } from '../../local-stack/processes';
import { http, metricValue, type RunningReplica, startReplica, testConfig, uniqueName } from '../harness/replicas';

/**
 * The stale audit judges a hit as a client would: stale once a newer write was acknowledged to
 * its client before the hit. A write committed and not acknowledged (its writer died, its client
 * gave up) makes hits stale to the database only: counted apart. Two replicas share a database
 * but not a channel, so the reader never hears of the writer's writes.
 */
describe('stale audit against acknowledged writes (MongoDB-wire, Redis)', () => {
  // A hit on a commit not yet acknowledged is judged once this has passed since the commit (the
  // audit asks again then), so the hit below must come within it: generous for a loaded machine.
  const ACK_WAIT_MS = 5_000;
  let writer: RunningReplica;
  let reader: RunningReplica;

  beforeAll(async () => {
    const shared = testConfig({
      STALE_CHECK_SAMPLE_RATE: 1,
      STALE_CHECK_GRACE_MS: 0,
      STALE_CHECK_ACK_WAIT_MS: ACK_WAIT_MS,
    });
    writer = await startReplica({ ...shared, REPLICA_ID: uniqueName('writer') });
    reader = await startReplica({
      ...shared,
      REPLICA_ID: uniqueName('reader'),
      INVALIDATION_CHANNEL: uniqueName('other-channel'),
    });
  });
  afterAll(async () => {
    await Promise.all([writer?.stop(), reader?.stop()]);
  });

  const counts = async () => ({
    checks: await metricValue(reader, 'cache_stale_checks_total'),
    stale: await metricValue(reader, 'cache_stale_reads_total'),
    unacknowledged: await metricValue(reader, 'cache_stale_reads_unacknowledged_total'),
  });
  /** One hit on the reader, then its audit's verdict (the counts once the check has finished). */
  const hitAndCheck = async (id: string) => {
    const before = await counts();
    const read = await http('GET', `${reader.url}/books/${id}`);
    expect([read.status, read.headers.get('x-cache'), read.json?.version]).toEqual([200, 'HIT', 1]);
    await waitFor(async () => (await counts()).checks === before.checks + 1, {
      timeoutMs: ACK_WAIT_MS + 10_000,
      message: 'the hit was checked',
    });
    const after = await counts();
    return { stale: after.stale - before.stale, unacknowledged: after.unacknowledged - before.unacknowledged };
  };

  it('counts a hit stale after an acknowledged write, and apart after a commit nobody was told of', async () => {
    const created = await http('POST', `${writer.url}/books`, { name: uniqueName('ack'), author: 'Ack', year: 2000 });
    const id = created.json?.id as string;
    expect((await http('GET', `${reader.url}/books/${id}`)).headers.get('x-cache')).toBe('MISS');
    expect(await hitAndCheck(id)).toEqual({ stale: 0, unacknowledged: 0 });

    // Committed without an answer to anyone (as a writer that dies right after its commit).
    await writer.repository.update(id, { year: 2001 });
    expect(await hitAndCheck(id)).toEqual({ stale: 0, unacknowledged: 1 });

    // A write answered over HTTP: its acknowledgment is recorded once the answer went out.
    const patched = await http('PATCH', `${writer.url}/books/${id}`, { year: 2002 });
    expect(patched.json?.version).toBe(3);
    await waitFor(async () => (await writer.repository.findAcknowledged(id)).some((a) => a.version === 3), {
      message: 'the acknowledgment of version 3 was recorded',
    });
    expect((await writer.repository.findAcknowledged(id)).map((a) => a.version)).toEqual([3]);
    expect(await hitAndCheck(id)).toEqual({ stale: 1, unacknowledged: 0 });
  });
});
