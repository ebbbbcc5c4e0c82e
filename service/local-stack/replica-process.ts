import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, ROOT, waitFor } from './processes';

export interface ReplicaProcess {
  id: string;
  url: string;
  child: ChildProcess;
  output(): string;
  /** Sends a signal and resolves with the exit code (or signal name). */
  stop(signal?: NodeJS.Signals): Promise<number | string>;
}

/** Starts the built replica exactly as `npm start` does: node --require dist/telemetry/register.js dist/main.js. */
function launch(env: Record<string, string>, nodeArgs: string[] = [], wrapper: string[] = []) {
  const main = join(ROOT, 'dist/main.js');
  if (!existsSync(main)) throw new Error('dist/main.js is missing: run `npm run build` first (make test does)');
  const command = [
    ...wrapper,
    process.execPath,
    ...nodeArgs,
    '--require',
    join(ROOT, 'dist/telemetry/register.js'),
    main,
  ];
  const child = spawn(command[0]!, command.slice(1), {
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const captured = { text: '' };
  child.stdout?.on('data', (chunk) => (captured.text += chunk));
  child.stderr?.on('data', (chunk) => (captured.text += chunk));
  return { child, output: () => captured.text };
}

/**
 * `nodeArgs` go to node itself (such as --cpu-prof, which NODE_OPTIONS refuses); `wrapper` runs
 * before node (such as unshare, to run it as PID 1 the way a container does).
 */
export async function spawnReplica(
  id: string,
  env: Record<string, string>,
  nodeArgs: string[] = [],
  wrapper: string[] = [],
): Promise<ReplicaProcess> {
  const port = env.PORT ? Number(env.PORT) : await freePort();
  const { child, output } = launch(
    { REPLICA_ID: id, PORT: String(port), LOG_LEVEL: 'info', ...env },
    nodeArgs,
    wrapper,
  );
  const exited = new Promise<number | string>((resolve) =>
    child.once('exit', (code, signal) => resolve(code ?? signal ?? 'unknown')),
  );
  const url = `http://127.0.0.1:${port}`;
  let finished = false;
  void exited.then(() => (finished = true));
  await waitFor(
    async () => {
      if (finished) throw new Error(`replica ${id} exited during start:\n${output()}`);
      return (await fetch(`${url}/readyz`)).status === 200;
    },
    { timeoutMs: 20_000, message: `replica ${id} ready` },
  );
  return {
    id,
    url,
    child,
    output,
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      if (!finished) child.kill(signal);
      return exited;
    },
  };
}

/** Runs the built replica with the given env and waits for it to exit (for start-up failures). */
export async function runReplicaToExit(env: Record<string, string>): Promise<{ code: number | null; output: string }> {
  const { child, output } = launch(env);
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  return { code, output: output() };
}
