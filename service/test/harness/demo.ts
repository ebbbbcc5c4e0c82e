import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { ROOT } from '../../local-stack/processes';

/** `make demo` with these options, as a user runs it without a terminal: its output so far, and its exit. */
export function startDemo(args: string[]): { output: () => string; exited: Promise<number | null> } {
  const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'service/demo/main.ts'), ...args], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (chunk) => (output += chunk));
  child.stderr.on('data', (chunk) => (output += chunk));
  return { output: () => output, exited: new Promise((resolve) => child.once('exit', resolve)) };
}
