import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import type { RunReport } from '../../demo/report';
import { ROOT, waitFor } from '../../local-stack/processes';
import { startDemo } from '../harness/demo';

const isAlive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

const launchChromium = () =>
  chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--no-first-run',
    ],
  });

/**
 * `make demo SCENARIO=cut DURATION=30`, as a user runs it (stdout not a terminal: plain lines),
 * with its live page opened in headless Chromium while the run goes on.
 */
describe('make demo, scripted, and its live page', () => {
  const dir = mkdtempSync(join(tmpdir(), 'lcs-demo-report-'));
  let output = '';
  let code: number | null = null;
  let live:
    | { url: string; shot: string; band: number; missed: number; links: string[]; graph?: number; errors: string[] }
    | undefined;

  beforeAll(async () => {
    const demo = startDemo(['--scenario', 'cut', '--duration', '30', '--report', dir]);
    // Expected: once the cut is healed, book-3 counts the messages it missed, and the page shows
    // them next to the shaded fault, before the run ends.
    const url = await waitFor(() => /live page (http:\/\/127\.0\.0\.1:\d+\/)/.exec(demo.output())?.[1], {
      timeoutMs: 60_000,
      message: 'the live page URL',
    });
    await waitFor(() => demo.output().includes('reconnected book-3 to Redis'), {
      timeoutMs: 60_000,
      message: 'the heal',
    });
    const browser = await launchChromium();
    try {
      const page = await browser.newPage({ viewport: { width: 1000, height: 1600 } });
      const errors: string[] = [];
      page.on('pageerror', (error) => errors.push(error.message));
      const missed = await waitFor(
        async () => {
          await page.goto(url);
          const cells = await page.$$eval('#totals tr', (rows) =>
            rows.map((row) => [...row.querySelectorAll('td')].map((td) => td.textContent ?? '')),
          );
          const count = Number(cells.find((c) => c[0] === 'book-3')?.[1] ?? 0);
          return count > 0 ? count : undefined;
        },
        { timeoutMs: 15_000, intervalMs: 500, message: 'the live page showing book-3 missed > 0' },
      );
      const shot = join(dir, 'live-page.png');
      await page.screenshot({ path: shot, fullPage: true });
      if (process.env.LIVE_PAGE_SCREENSHOT) copyFileSync(shot, process.env.LIVE_PAGE_SCREENSHOT);
      const links = await page.$$eval('a', (anchors) => anchors.map((a) => (a as unknown as { href: string }).href));
      live = {
        url,
        shot,
        missed,
        band: await page.$$eval('rect.fault', (rects) => rects.length),
        links,
        // A link followed while the demo runs: Prometheus' own UI answers it (built into its binary).
        graph: links[0] ? (await page.goto(links[0]))?.status() : undefined,
        errors,
      };
    } finally {
      await browser.close();
    }
    code = await demo.exited;
    output = demo.output();
  }, 150_000);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('serves a live page on loopback that shades the fault and counts the missed messages as they happen', async () => {
    expect(live).toBeDefined();
    expect(live!.missed).toBeGreaterThan(0);
    expect(live!.band).toBe(5); // the cut, shaded on each of the five charts
    expect(statSync(live!.shot).size).toBeGreaterThan(30_000);
    expect(live!.errors).toEqual([]);
    const prometheus = /prometheus (http:\/\/127\.0\.0\.1:\d+)/.exec(output)?.[1];
    expect(live!.links.length).toBeGreaterThanOrEqual(7);
    for (const link of live!.links) expect(link.startsWith(`${prometheus}/graph?g0.expr=`)).toBe(true);
    expect(live!.graph).toBe(200);
    expect(decodeURIComponent(live!.links.join(' '))).toContain('cache_invalidations_missed_total');
    // Gone with the demo.
    await expect(fetch(live!.url)).rejects.toThrow();
  });

  it('runs traffic, cuts a replica, heals it, and reports the fault it caused', () => {
    expect({ code, tail: output.slice(-2000) }).toEqual({
      code: 0,
      tail: expect.stringContaining('report written to'),
    });
    const report = JSON.parse(readFileSync(join(dir, 'summary.json'), 'utf8')) as RunReport;
    const faulted = report.replicas.find((r) => r.replica === 'book-3')!;
    expect(report.title).toBe('cut on book-3');
    expect(report.faults).toEqual([expect.objectContaining({ label: 'cut', replica: 'book-3', mode: 'pubsub' })]);
    expect(faulted.missed).toBeGreaterThan(0);
    expect(faulted.staleProbe).toBeGreaterThan(0);
    expect(faulted.staleService).toBeGreaterThan(0);
    expect(report.samples.length).toBeGreaterThanOrEqual(28);
    expect(report.outcomes).toHaveLength(1);
    expect(report.outcomes[0]!.text).toMatch(/^book-3 missed \d+ messages?; it now serves \d+ stale books?/);
    expect(output).toContain(`demo: ${report.outcomes[0]!.text}`);
    const md = readFileSync(join(dir, 'report.md'), 'utf8');
    expect(md).toContain(
      `| ${faulted.replica} | ${faulted.missed} | ${faulted.staleService} | ${faulted.staleProbe} |`,
    );
    expect(output).toMatch(/first numbers after \d+\.\d s/);
  });

  it('leaves no process and no temporary folder behind', () => {
    const report = JSON.parse(readFileSync(join(dir, 'summary.json'), 'utf8')) as RunReport;
    expect(report.resources.pids.length).toBeGreaterThanOrEqual(5); // redis, mongo-wire, 3 replicas (+ prometheus)
    expect(report.resources.pids.filter(isAlive)).toEqual([]);
    expect(report.resources.dirs.length).toBeGreaterThanOrEqual(2);
    expect(report.resources.dirs.filter((d) => existsSync(d))).toEqual([]);
    expect(output).toMatch(/stopped \d+ processes and removed \d+ temporary folders\n/);
    expect(output).not.toContain('STILL THERE');
  });

  it('writes a report.html whose charts render in headless Chromium, offline, without errors', async () => {
    const browser = await launchChromium();
    try {
      const page = await browser.newPage({ viewport: { width: 1000, height: 1400 } });
      const errors: string[] = [];
      const requests: string[] = [];
      page.on('console', (message) => message.type() === 'error' && errors.push(message.text()));
      page.on('pageerror', (error) => errors.push(error.message));
      page.on('request', (request) => !request.url().startsWith('file:') && requests.push(request.url()));
      await page.goto(`file://${join(dir, 'report.html')}`);
      const charts = await page.$$eval('svg', (svgs) =>
        svgs.map((svg) => ({
          title: svg.getAttribute('aria-label'),
          lines: svg.querySelectorAll('polyline.series').length,
          drawn: [...svg.querySelectorAll('polyline.series')].filter(
            (p) => (p as unknown as { getBBox(): { width: number } }).getBBox().width > 100,
          ).length,
        })),
      );
      expect(charts).toHaveLength(5);
      for (const chart of charts) expect(chart).toEqual({ title: chart.title, lines: 3, drawn: 3 });
      const screenshot = join(dir, 'report.png');
      await page.screenshot({ path: screenshot, fullPage: true });
      expect(statSync(screenshot).size).toBeGreaterThan(30_000);
      expect(errors).toEqual([]);
      expect(requests).toEqual([]);
    } finally {
      await browser.close();
    }
  }, 60_000);
});

/** `make demo TOPOLOGY=sentinel SCENARIO=failover DURATION=16`: the master killed, in pubsub mode. */
describe('make demo on a Sentinel set, scripted failover', () => {
  const dir = mkdtempSync(join(tmpdir(), 'lcs-demo-failover-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('kills the master under traffic: every replica misses messages, and nothing is left behind', async () => {
    const demo = startDemo(['--scenario', 'failover', '--topology', 'sentinel', '--duration', '16', '--report', dir]);
    const code = await demo.exited;
    const output = demo.output();
    expect({ code, tail: output.slice(-2000) }).toEqual({
      code: 0,
      tail: expect.stringContaining('report written to'),
    });
    expect(output).toMatch(/starting a Sentinel set/);
    expect(output).toMatch(/killed the channel's Redis master \(SIGKILL\); a replica took over after \d+\.\d s/);
    const report = JSON.parse(readFileSync(join(dir, 'summary.json'), 'utf8')) as RunReport;
    expect(report.replicas.map((r) => r.missed > 0)).toEqual([true, true, true]);
    // 2 data nodes, 3 Sentinels, the MongoDB-wire server, 3 replicas: all gone.
    expect(report.resources.pids.length).toBeGreaterThanOrEqual(9);
    expect(report.resources.pids.filter(isAlive)).toEqual([]);
    expect(report.resources.dirs.filter((d) => existsSync(d))).toEqual([]);
  }, 120_000);

  it('refuses a failover on standalone Redis, and a cut on a Sentinel set, with one clear error each', () => {
    const run = (...args: string[]) =>
      spawnSync(process.execPath, ['--import', 'tsx', join(ROOT, 'service/demo/main.ts'), ...args], {
        cwd: ROOT,
        encoding: 'utf8',
      });
    const failover = run('--scenario', 'failover');
    expect([failover.status, failover.stderr]).toEqual([
      2,
      expect.stringMatching(/--scenario: needs --topology sentinel or cluster/),
    ]);
    const cut = run('--scenario', 'cut', '--topology', 'sentinel');
    expect([cut.status, cut.stderr]).toEqual([2, expect.stringMatching(/--scenario: needs --topology standalone/)]);
  });
});
