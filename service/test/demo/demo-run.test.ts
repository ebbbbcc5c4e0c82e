import { spawn } from 'node:child_process';
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
