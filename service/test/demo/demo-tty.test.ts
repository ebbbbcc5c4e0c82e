import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { ROOT, waitFor } from '../../local-stack/processes';

const tmux = (...args: string[]) => {
  const result = spawnSync('tmux', args, { encoding: 'utf8' });
  if (result.error) throw result.error;
  return result.stdout;
};

/** The live view through a real pseudo-terminal (tmux, 80x24): it draws, takes keys, and q stops everything. */
describe('make demo, live view in a terminal', () => {
  const session = `lcs-demo-${randomBytes(3).toString('hex')}`;
  afterAll(() => {
    spawnSync('tmux', ['kill-session', '-t', session]);
  });

  it('shows every replica, cuts and heals one on keys, and quits cleanly on q', async () => {
    const command = `cd ${ROOT} && node --import tsx ${join(ROOT, 'service/demo/main.ts')}; echo "DEMO EXIT $?"; sleep 60`;
    tmux('new-session', '-d', '-s', session, '-x', '80', '-y', '24', command);
    const screen = () => tmux('capture-pane', '-p', '-t', session);

    const drawn = await waitFor(
      () => {
        const text = screen();
        return /replica\s+up\s+sub/.test(text) && (text.match(/^[ >]book-\d\s+yes\s+up/gm) ?? []).length === 3
          ? text
          : undefined;
      },
      {
        timeoutMs: 60_000,
        intervalMs: 250,
        message: 'the live view with three replicas up',
      },
    );
    for (const line of drawn.split('\n')) expect(line.length).toBeLessThanOrEqual(80);
    expect(drawn).toMatch(/^>book-3/m);

    tmux('send-keys', '-t', session, 'c');
    await waitFor(() => /^>book-3\s+yes\s+down/m.test(screen()) && /cut book-3 off Redis/.test(screen()), {
      timeoutMs: 20_000,
      intervalMs: 250,
      message: 'book-3 cut off: subscriber down, event logged',
    });
    tmux('send-keys', '-t', session, 'h');
    await waitFor(() => /^>book-3\s+yes\s+up/m.test(screen()) && /reconnected book-3 to Redis/.test(screen()), {
      timeoutMs: 20_000,
      intervalMs: 250,
      message: 'book-3 healed',
    });

    tmux('send-keys', '-t', session, 'q');
    const after = await waitFor(() => (/DEMO EXIT \d+/.test(screen()) ? screen() : undefined), {
      timeoutMs: 30_000,
      intervalMs: 250,
      message: 'the demo exits',
    });
    expect(after).toContain('DEMO EXIT 0');
    expect(after).toMatch(/stopped \d+ processes and removed \d+ temporary folders/);
    expect(after).not.toContain('STILL THERE');
  }, 120_000);
});
