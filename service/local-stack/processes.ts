import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

/** The repository root, found from wherever this file runs (sources under tsx, or compiled). */
function findRoot(from: string): string {
  for (let dir = from; dir !== dirname(dir); dir = dirname(dir)) {
    const manifest = join(dir, 'package.json');
    if (existsSync(manifest) && JSON.parse(readFileSync(manifest, 'utf8')).name === 'local-cache-sync') return dir;
  }
  throw new Error(`no local-cache-sync package.json above ${from}`);
}

export const ROOT = findRoot(__dirname);

/** Polls `condition` until it returns a truthy value or the timeout passes. */
export async function waitFor<T>(
  condition: () => T | Promise<T>,
  { timeoutMs = 10_000, intervalMs = 25, message = 'condition' } = {},
): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await condition();
      if (value) return value as NonNullable<T>;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${message}${lastError ? `: ${lastError}` : ''}`);
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

export async function freePort(): Promise<number> {
  // Not port 0: the kernel hands out the same ephemeral range to outgoing connections, so a port
  // found free could be taken by some client's socket before the server that was given it binds.
  const high = ephemeralLow() - 1;
  for (let attempt = 0; attempt < 100 && high > LISTEN_PORTS_FROM; attempt += 1) {
    const port = LISTEN_PORTS_FROM + Math.floor(Math.random() * (high - LISTEN_PORTS_FROM + 1));
    if (handedOut.has(port)) continue;
    if ((await bindOn(port)) !== undefined) {
      handedOut.add(port);
      return port;
    }
  }
  return (await bindOn(0)) ?? 0;
}

const LISTEN_PORTS_FROM = 20_000;
/** Ports this process gave out already: each goes to one server only. */
const handedOut = new Set<number>();

/** The first port of the kernel's ephemeral range (Linux's default when it cannot be read). */
function ephemeralLow(): number {
  try {
    return Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]) || 32_768;
  } catch {
    return 32_768;
  }
}

/** Binds and releases `port` on loopback (0: any); the port it got, or undefined if it was taken. */
function bindOn(port: number): Promise<number | undefined> {
  return new Promise((resolvePort) => {
    const server = createServer();
    server.unref();
    server.on('error', () => resolvePort(undefined));
    server.listen(port, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolvePort(typeof address === 'object' && address ? address.port : undefined));
    });
  });
}

const canConnect = (port: number) =>
  new Promise<boolean>((done) => {
    const socket = createConnection({ port, host: '127.0.0.1' });
    socket.once('connect', () => {
      socket.destroy();
      done(true);
    });
    socket.once('error', () => done(false));
  });

export function onPath(binary: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${binary}`]).status === 0;
}

/** A server process the harness owns, with its own temporary data folder. */
export class ServerProcess {
  private child?: ChildProcess;
  private output = '';

  constructor(
    readonly name: string,
    readonly port: number,
    readonly dataDir: string,
    private readonly command: string,
    private readonly args: string[],
    /** More environment for the server (on top of this process's). */
    private readonly env: Record<string, string> = {},
  ) {}

  get pid(): number | undefined {
    return this.child?.pid;
  }

  alive(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  async start(): Promise<void> {
    const child = spawn(this.command, this.args, {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, ...this.env },
    });
    this.child = child;
    const keep = (chunk: Buffer) => {
      this.output = (this.output + chunk.toString()).slice(-4000);
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    let exited = false;
    child.once('exit', () => {
      exited = true;
    });
    await waitFor(
      async () => {
        if (exited) throw new Error(`${this.name} exited: ${this.output}`);
        return canConnect(this.port);
      },
      { timeoutMs: 30_000, message: `${this.name} on port ${this.port}` },
    );
  }

  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill(signal);
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
  }

  async restart(): Promise<void> {
    await this.stop();
    await this.start();
  }

  async destroy(): Promise<void> {
    await this.stop();
    rmSync(this.dataDir, { recursive: true, force: true });
  }
}

/** PEM files for a TLS-only redis-server: its certificate and key, and the CA clients check it with. */
export interface RedisTls {
  cert: string;
  key: string;
  ca: string;
}

export async function startRedis(extraArgs: string[] = [], tls?: RedisTls): Promise<ServerProcess & { url: string }> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'lcs-redis-'));
  const listen = tls
    ? ['--port', '0', '--tls-port', String(port), '--tls-cert-file', tls.cert, '--tls-key-file', tls.key]
    : ['--port', String(port)];
  const trust = tls ? ['--tls-ca-cert-file', tls.ca, '--tls-auth-clients', 'no'] : [];
  const server = new ServerProcess('redis-server', port, dir, 'redis-server', [
    ...listen,
    ...trust,
    '--bind',
    '127.0.0.1',
    '--save',
    '',
    '--appendonly',
    'no',
    '--dir',
    dir,
    ...extraArgs,
  ]);
  await server.start();
  return Object.assign(server, { url: `${tls ? 'rediss' : 'redis'}://127.0.0.1:${port}` });
}

/** A tool `make deps` builds with Go into .cache/bin, at the version scripts/deps.sh pins. */
export function cachedBinary(
  name: 'ferretdb' | 'jaeger' | 'toxiproxy-server' | 'prometheus' | 'promtool' | 'helm' | 'sloth',
): string {
  return join(ROOT, '.cache/bin', name);
}

export function ferretdbBinary(): string {
  return cachedBinary('ferretdb');
}

/** mongod when installed, else FerretDB v1 on SQLite (built by `make deps`). Never a mock. */
export async function startMongo(): Promise<ServerProcess & { uri: string; kind: string }> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'lcs-mongo-'));
  let server: ServerProcess;
  let kind: string;
  if (onPath('mongod')) {
    kind = 'mongod';
    server = new ServerProcess(kind, port, dir, 'mongod', [
      '--dbpath',
      dir,
      '--port',
      String(port),
      '--bind_ip',
      '127.0.0.1',
      '--quiet',
    ]);
  } else if (existsSync(ferretdbBinary())) {
    kind = 'FerretDB v1 (SQLite)';
    server = new ServerProcess(kind, port, dir, ferretdbBinary(), [
      '--handler=sqlite',
      `--sqlite-url=file:${dir}/`,
      `--state-dir=${dir}`,
      `--listen-addr=127.0.0.1:${port}`,
      '--debug-addr=-',
      '--telemetry=disable',
      '--log-level=error',
    ]);
  } else {
    throw new Error('no MongoDB-wire server: install mongod, or run `make deps` to build FerretDB into .cache/bin');
  }
  await server.start();
  return Object.assign(server, { uri: `mongodb://127.0.0.1:${port}`, kind });
}
