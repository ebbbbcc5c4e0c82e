import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import type { RunReport } from '../../demo/report';
import { ROOT } from '../../local-stack/processes';

const isAlive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/** `make demo SCENARIO=cut DURATION=20`, as a user runs it (stdout not a terminal: plain lines). */
describe('make demo, scripted', () => {
  const dir = mkdtempSync(join(tmpdir(), 'lcs-demo-report-'));
  let output = '';
  let code: number | null = null;

  beforeAll(async () => {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', join(ROOT, 'service/demo/main.ts'), '--scenario', 'cut', '--duration', '20', '--report', dir],
      {
        cwd: ROOT,
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    child.stdout.on('data', (chunk) => (output += chunk));
    child.stderr.on('data', (chunk) => (output += chunk));
    code = await new Promise((resolve) => child.once('exit', resolve));
  }, 120_000);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('runs traffic, cuts a replica, heals it, and reports the fault it caused', () => {
    expect({ code, tail: output.slice(-2000) }).toEqual({
      code: 0,
      tail: expect.stringContaining('report written to'),
    });
    const report = JSON.parse(readFileSync(join(dir, 'summary.json'), 'utf8')) as RunReport;
    const faulted = report.replicas.find((r) => r.replica === report.faultedReplica)!;
    expect(report.scenario).toBe('cut');
    expect(faulted.missed).toBeGreaterThan(0);
    expect(faulted.staleProbe).toBeGreaterThan(0);
    expect(faulted.staleService).toBeGreaterThan(0);
    expect(report.samples.length).toBeGreaterThanOrEqual(18);
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
    const browser = await chromium.launch({
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
          lines: svg.querySelectorAll('polyline.series').length,
          drawn: [...svg.querySelectorAll('polyline.series')].filter(
            (p) => (p as unknown as { getBBox(): { width: number } }).getBBox().width > 100,
          ).length,
        })),
      );
      expect(charts).toHaveLength(5);
      for (const chart of charts) expect(chart).toEqual({ lines: 3, drawn: 3 });
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
    const args = ['--scenario', 'failover', '--topology', 'sentinel', '--duration', '16', '--report', dir];
    const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'service/demo/main.ts'), ...args], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk) => (output += chunk));
    child.stderr.on('data', (chunk) => (output += chunk));
    const code = await new Promise((resolve) => child.once('exit', resolve));
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
