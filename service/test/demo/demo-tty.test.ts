import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT, waitFor } from '../../local-stack/processes';

const tmux = (...args: string[]) => {
  const result = spawnSync('tmux', args, { encoding: 'utf8' });
  if (result.error) throw result.error;
  return result.stdout;
};

/** The live view through a real pseudo-terminal (tmux, 80x24): it draws, takes keys, explains itself, and q stops everything. */
describe('make demo, live view in a terminal', () => {
  const session = `lcs-demo-${randomBytes(3).toString('hex')}`;
  afterAll(() => {
    spawnSync('tmux', ['kill-session', '-t', session]);
  });

  it('pauses a replica past the buffer limit on p: missed messages and stale reads, columns that agree, ? explains them', async () => {
    const command = `cd ${ROOT} && node --import tsx ${join(ROOT, 'service/demo/main.ts')}; echo "DEMO EXIT $?"; sleep 60`;
    tmux('new-session', '-d', '-s', session, '-x', '80', '-y', '24', command);
    const screen = () => tmux('capture-pane', '-p', '-t', session);
    // Event lines wrap under their text: joined again for matching.
    const events = () => screen().replace(/\n {7}(?=\S)/g, ' ');
    const row = (text: string, replica: string) => {
      const line = text.split('\n').find((l) => l.slice(1).startsWith(`${replica} `));
      const cells = line?.slice(1).trim().split(/\s+/) ?? [];
      // replica proc sub hit p50 p99 missed stale(service) stale(probe) now window
      return {
        line,
        proc: cells[1],
        sub: cells[2],
        hit: cells[3],
        missed: Number(cells[6]),
        staleService: Number(cells[7]),
        staleProbe: Number(cells[8]),
        staleNow: Number(cells[9]),
      };
    };

    const drawn = await waitFor(
      () => {
        const text = screen();
        return /replica\s+proc\s+sub/.test(text) &&
          ['book-1', 'book-2', 'book-3'].every((r) => row(text, r).proc === 'up' && row(text, r).sub === 'up')
          ? text
          : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 250, message: 'the live view with three replicas up and subscribed' },
    );
    for (const line of drawn.split('\n')) expect(line.length).toBeLessThanOrEqual(80);
    expect(drawn).toMatch(/^>book-3/m);
    expect(drawn).toMatch(/live page http:\/\/127\.0\.0\.1:\d+\//);
    expect(drawn).toMatch(/\? explains/);
    // Caches warm: book-3 serves hits before it is paused.
    await waitFor(() => Number.parseInt(row(screen(), 'book-3').hit ?? '', 10) > 0, {
      timeoutMs: 30_000,
      intervalMs: 250,
      message: 'book-3 has cache hits',
    });
    const before = row(screen(), 'book-3');

    // Expected: Redis cuts the paused subscriber once its buffer passes the limit; on resume book-3
    // counts the messages it missed and serves stale books, and the event line says so with the
    // numbers its row shows.
    tmux('send-keys', '-t', session, 'p');
    await waitFor(() => /PAUSED/.test(row(screen(), 'book-3').proc ?? '') || /Redis cut book-3/.test(events()), {
      timeoutMs: 20_000,
      intervalMs: 200,
      message: 'book-3 shown paused',
    });
    const cut = await waitFor(
      () => /Redis cut book-3's subscriber after (\d+\.\d) s, ([\d.]+) (KB|MB) sent its way/.exec(events()),
      {
        timeoutMs: 60_000,
        intervalMs: 250,
        message: 'Redis cuts the paused subscriber, and the event line says when',
      },
    );
    // Past the limit: more than Redis' hard limit (256 KB) went its way.
    expect(Number(cut[2]) * (cut[3] === 'MB' ? 1024 : 1)).toBeGreaterThan(256);
    // What was in the socket buffers still arrives on resume; the loss is what is written from
    // the cut on. Resumed once the probe has had 30 more writes acknowledged (the live page says).
    const page = /live page (http:\/\/127\.0\.0\.1:\d+\/)/.exec(drawn)![1]!;
    const writes = async () => Number(/Probe writes: (\d+) acknowledged/.exec(await (await fetch(page)).text())?.[1]);
    const writesAtCut = await writes();
    await waitFor(async () => (await writes()) >= writesAtCut + 30, {
      timeoutMs: 30_000,
      intervalMs: 250,
      message: '30 writes while book-3 is cut',
    });
    tmux('send-keys', '-t', session, 'u');
    const outcome = await waitFor(
      () => /book-3 missed (\d+) messages; it now serves (\d+) stale books? \(probe\)/.exec(screen()),
      {
        timeoutMs: 45_000,
        intervalMs: 250,
        message: 'the event line that says what the pause cost',
      },
    );
    const after = row(screen(), 'book-3');
    const [missed, staleNow] = [Number(outcome[1]), Number(outcome[2])];
    expect(missed).toBeGreaterThan(0);
    expect(after.missed - before.missed).toBeGreaterThanOrEqual(missed);
    expect(after.staleProbe).toBeGreaterThan(before.staleProbe);
    expect(after.staleService).toBeGreaterThan(before.staleService);
    expect(staleNow).toBeGreaterThan(0);
    expect(after.staleNow).toBeLessThanOrEqual(after.staleProbe);
    expect(after.proc).toBe('up');
    const shot = screen();
    for (const line of shot.split('\n')) expect(line.length).toBeLessThanOrEqual(80);
    if (process.env.DEMO_SCREEN_FILE) writeFileSync(process.env.DEMO_SCREEN_FILE, shot);

    tmux('send-keys', '-t', session, '?');
    await waitFor(() => /proc\s+the process: up, PAUSED/.test(screen()), {
      timeoutMs: 10_000,
      intervalMs: 200,
      message: 'the help on ?',
    });
    tmux('send-keys', '-t', session, '?');

    tmux('send-keys', '-t', session, 'q');
    const exited = await waitFor(() => (/DEMO EXIT \d+/.test(screen()) ? screen() : undefined), {
      timeoutMs: 30_000,
      intervalMs: 250,
      message: 'the demo exits',
    });
    expect(exited).toContain('DEMO EXIT 0');
    expect(exited).toMatch(/stopped \d+ processes and removed \d+ temporary folders/);
    expect(exited).not.toContain('STILL THERE');
  }, 200_000);
});
