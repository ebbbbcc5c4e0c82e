import { spawnSync } from 'node:child_process';
import { ROOT } from '../../local-stack/processes';

/** Every command a user runs answers --help with its usage and exits 0, doing nothing else. */
const COMMANDS: [string, string[]][] = [
  ['replica (npm start)', [process.execPath, 'dist/main.js', '--help']],
  ['probe (npm run probe)', [process.execPath, 'dist/probe/main.js', '--help']],
  ['make demo', [process.execPath, '--import', 'tsx', 'service/demo/main.ts', '--help']],
  ['make bench', [process.execPath, '--import', 'tsx', 'bench/main.ts', '--help']],
  ['make bench-profile', [process.execPath, '--import', 'tsx', 'bench/read-path/cpu-profile.ts', '--help']],
  ['make experiment', [process.execPath, '--import', 'tsx', 'bench/fault-runs/experiment.ts', '--help']],
  ['make soak', [process.execPath, '--import', 'tsx', 'bench/soak/main.ts', '--help']],
  ['make recovery', [process.execPath, '--import', 'tsx', 'bench/recovery/main.ts', '--help']],
  ['recovery reader (this library)', [process.execPath, 'bench/recovery/our-reader.cjs', '--help']],
  ['recovery reader (node-redis)', [process.execPath, 'bench/peers/csc-reader.mjs', '--help']],
  ['the 0.1.0 package build', ['bash', 'scripts/build-compat-package.sh', '--help']],
  ['npm run dashboards', [process.execPath, '--import', 'tsx', 'dashboards/src/generate.ts', '--help']],
  ['make deps', ['bash', 'scripts/deps.sh', '--help']],
  ['make k8s-check', ['bash', 'scripts/k8s-check.sh', '--help']],
  ['k8s tools', ['bash', 'scripts/k8s-tools.sh', '--help']],
  ['make failover', ['bash', 'scripts/compose-failover.sh', '--help']],
  ['make pause-replica', ['bash', 'scripts/compose-pause.sh', '--help']],
  ['bench peer receiver', [process.execPath, 'bench/peers/receiver.mjs', '--help']],
  ['bench peer publisher', [process.execPath, 'bench/peers/publisher.mjs', '--help']],
  ['npm run docs', [process.execPath, '--import', 'tsx', 'scripts/docs.ts', '--help']],
];

describe('every command answers --help', () => {
  it.each(COMMANDS)('%s', (_name, [command, ...args]) => {
    const run = spawnSync(command!, args, { cwd: ROOT, encoding: 'utf8', timeout: 30_000 });
    expect({ status: run.status, stderr: run.stderr }).toEqual({ status: 0, stderr: '' });
    expect(run.stdout).toMatch(/usage: /);
  });

  it('the replica lists every configuration variable', () => {
    const run = spawnSync(process.execPath, ['dist/main.js', '--help'], { cwd: ROOT, encoding: 'utf8' });
    for (const name of ['REDIS_URL', 'MONGODB_URI', 'SYNC_MODE', 'CHAOS_ENABLED']) expect(run.stdout).toContain(name);
  });

  it('an unknown or bad option is refused with every problem, the usage and status 2', () => {
    const run = spawnSync(process.execPath, ['dist/probe/main.js', '--bogus', '1'], { cwd: ROOT, encoding: 'utf8' });
    expect(run.status).toBe(2);
    expect(run.stderr).toMatch(/probe: invalid options\n {2}- .*bogus[\s\S]*usage: /);
    const bad = spawnSync(process.execPath, ['dist/probe/main.js', '--targets', 'x', '--rate=-1'], {
      cwd: ROOT,
      encoding: 'utf8',
    });
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/--targets: [\s\S]*--rate: /);
  });
});
