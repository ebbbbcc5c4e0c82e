import {
  RECOVERY_PLAN,
  type RecoveryPlan,
  type RecoveryRun,
  recoveryRun,
  startRecoveryServers,
} from '../../../bench/recovery/recovery-bench';
import { extraShare, recoveryMarkdown, recoveryTargets } from '../../../bench/recovery/recovery-report';

/**
 * `make recovery`'s machinery on a small plan: real reader processes (this library in stream mode,
 * node-redis client-side caching), real Redis kept on disk, a real Toxiproxy cut. It asserts what
 * each system does to its cache on a cut, as their designs say, never how fast anything was.
 */
const SMALL: RecoveryPlan = {
  replicas: 2,
  entries: 500,
  readRate: 50,
  writeRate: 5,
  steadySeconds: 3,
  windowSeconds: 2,
  cutSeconds: 2,
};

/** Every entry, less those a write evicted before the fault that no read has brought back yet. */
const heldAtLeast = SMALL.replicas * (SMALL.entries - SMALL.writeRate * SMALL.steadySeconds);

describe('make recovery (smoke run)', () => {
  let servers: Awaited<ReturnType<typeof startRecoveryServers>>;
  const runs: RecoveryRun[] = [];

  beforeAll(async () => {
    servers = await startRecoveryServers(SMALL);
  }, 60_000);
  afterAll(async () => {
    await servers?.stop();
  });

  it('stream mode replays a cut: the cut replica keeps its entries', async () => {
    const run = await recoveryRun(servers.redis, servers.proxies, 'stream', 'cut', SMALL);
    runs.push(run);
    expect(run.heldBefore).toBeGreaterThanOrEqual(heldAtLeast);
    // Only entries whose key was written during the cut (5/s for 2 s) may be evicted.
    expect(run.heldBefore - run.heldLeast).toBeLessThanOrEqual(SMALL.writeRate * (SMALL.cutSeconds + 2) * 2);
    expect(run.steady.reads).toBeGreaterThan(0);
    expect(run.after.reads).toBeGreaterThan(0);
    // Counted for this library's readers (a read that bypasses the cache while it is not trusted
    // goes to the source each time, so no bound holds here: the full run reports it).
    expect(run.maxReadsPerKey).toEqual(expect.any(Number));
  }, 120_000);

  it('node-redis client-side caching clears the cut replica whole', async () => {
    const run = await recoveryRun(servers.redis, servers.proxies, 'node-redis', 'cut', SMALL);
    runs.push(run);
    expect(run.heldBefore).toBeGreaterThanOrEqual(heldAtLeast);
    // Its connection broke: every entry of the cut replica went (then reloads refill some).
    expect(run.heldBefore - run.heldLeast).toBeGreaterThanOrEqual(
      SMALL.entries - SMALL.writeRate * SMALL.steadySeconds,
    );
    expect(run.maxReadsPerKey).toBeUndefined();
  }, 120_000);

  it('reports every run with the stream targets', () => {
    expect(runs.map((r) => r.system)).toEqual(['stream', 'node-redis']);
    const markdown = recoveryMarkdown(runs, SMALL, 'this machine');
    expect(markdown).toContain('| stream | cut |');
    expect(markdown).toContain('| node-redis | cut |');
    expect(recoveryTargets(runs, SMALL).map((t) => t.target)).toEqual([
      'stream, cut: at most 1 % of the entries reloaded beyond steady state',
      'stream, cut: read p99 in the 2 s after at most 2x steady state',
    ]);
    // The node-redis replica reloads what its reads touch after the clear: more than steady state.
    expect(extraShare(runs[1]!, SMALL)).toBeGreaterThan(extraShare(runs[0]!, SMALL));
    expect(RECOVERY_PLAN.entries).toBe(10_000);
  });
});
