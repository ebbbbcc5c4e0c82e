import { waitFor } from '../../../service/local-stack/processes';
import { RecoveringPolicy } from '../src/sync/recovery';

describe('RecoveringPolicy', () => {
  it('tries a failed recovery again while the subscriber is up, and trusts the cache once one succeeds', async () => {
    const attempts: string[] = [];
    const failed: string[] = [];
    const policy = new RecoveringPolicy({
      mode: 'stream',
      silenceMs: 60_000,
      jitterMs: 1,
      // The replay's connection is not back yet the first two times.
      recover: async (reason) => {
        attempts.push(reason);
        if (attempts.length <= 2) throw new Error('Stream isn\u2019t writeable');
        return { action: 'flushed' };
      },
      events: {
        onRecovery: (recovery) => {
          if (recovery.action === 'failed') failed.push(recovery.error.message);
        },
      },
    });
    try {
      policy.onSubscriberState('down');
      expect(policy.trusted()).toBe(false);
      policy.onSubscriberState('up');
      expect(policy.trusted()).toBe(false);
      await waitFor(() => policy.trusted(), { timeoutMs: 5_000, message: 'trusted after a retried recovery' });
      expect(attempts).toEqual(['reconnect', 'reconnect', 'reconnect']);
      expect(failed).toHaveLength(2);
    } finally {
      policy.stop();
    }
  });

  it('leaves the retry to the reconnect while the subscriber is down', async () => {
    let attempts = 0;
    const policy = new RecoveringPolicy({
      mode: 'pubsub-flush',
      silenceMs: 60_000,
      jitterMs: 1,
      recover: async () => {
        attempts += 1;
        throw new Error('connection closed');
      },
    });
    try {
      policy.onGap();
      await waitFor(() => attempts === 1, { timeoutMs: 2_000, message: 'first attempt' });
      policy.onSubscriberState('down');
      // The retry was due 100 ms after the failure; nothing may come while down.
      const retriedWhileDown = await waitFor(() => attempts > 1, { timeoutMs: 600, message: 'no retry' }).then(
        () => true,
        () => false,
      );
      expect(retriedWhileDown).toBe(false);
      expect(policy.trusted()).toBe(false);
    } finally {
      policy.stop();
    }
  });

  it('recovers once from an outage in which peers also fell silent: the reconnect covers the silence', async () => {
    let now = 1_000_000;
    const reasons: string[] = [];
    const policy = new RecoveringPolicy({
      mode: 'stream',
      silenceMs: 3_000,
      jitterMs: 0,
      now: () => now,
      recover: async (reason) => {
        reasons.push(reason);
        return { action: 'replayed', replayed: 0 };
      },
    });
    try {
      policy.setLiveMembers(3);
      policy.onSubscriberState('down');
      now += 5_000; // a 5 s cut: no message from any peer
      expect(policy.trusted()).toBe(false);
      policy.onSubscriberState('up');
      await waitFor(() => policy.trusted(), { timeoutMs: 2_000, message: 'trusted after the replay' });
      // The peers' first message after the reconnect starts no second recovery.
      policy.onMessage();
      expect([policy.trusted(), reasons]).toEqual([true, ['reconnect']]);
    } finally {
      policy.stop();
    }
  });
});
