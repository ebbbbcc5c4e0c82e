import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cachedBinary, freePort, ServerProcess } from './processes';

export function toxiproxyBinary(): string {
  return cachedBinary('toxiproxy-server');
}

/** One proxy of a Toxiproxy server: a listening port in front of an upstream, with toxics. */
export class ToxicProxy {
  constructor(
    private readonly api: string,
    readonly name: string,
    readonly port: number,
  ) {}

  /** Drops every connection and refuses new ones (Toxiproxy disables the proxy) until restore(). */
  cutOff(): Promise<void> {
    return this.set({ enabled: false });
  }

  restore(): Promise<void> {
    return this.set({ enabled: true });
  }

  /** Adds a latency toxic: `ms` (whole milliseconds, Toxiproxy's unit) on the data flowing that way. */
  async latency(ms: number, stream: 'upstream' | 'downstream'): Promise<void> {
    await this.call('POST', `/proxies/${this.name}/toxics`, {
      name: `latency_${stream}`,
      type: 'latency',
      stream,
      attributes: { latency: ms, jitter: 0 },
    });
  }

  /** Removes the latency toxic added with latency(). */
  async removeLatency(stream: 'upstream' | 'downstream'): Promise<void> {
    await this.call('DELETE', `/proxies/${this.name}/toxics/latency_${stream}`);
  }

  private async set(fields: Record<string, unknown>): Promise<void> {
    await this.call('POST', `/proxies/${this.name}`, fields);
  }

  private async call(method: string, path: string, body?: unknown): Promise<unknown> {
    const response = await fetch(`${this.api}${path}`, {
      method,
      headers: { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    if (!response.ok) throw new Error(`toxiproxy ${method} ${path}: ${response.status} ${await response.text()}`);
    // A removal answers 204, with no body.
    return response.status === 204 ? undefined : response.json();
  }
}

/**
 * A Toxiproxy server (v2.5.0, built by `make deps` into .cache/bin) on a free loopback port: a
 * proxy per connection the tests cut or slow down.
 */
export class Toxiproxy {
  private constructor(
    private readonly server: ServerProcess,
    readonly api: string,
  ) {}

  static async start(): Promise<Toxiproxy> {
    const port = await freePort();
    const server = new ServerProcess(
      'toxiproxy-server',
      port,
      mkdtempSync(join(tmpdir(), 'lcs-toxiproxy-')),
      toxiproxyBinary(),
      ['-host', '127.0.0.1', '-port', String(port)],
    );
    await server.start();
    return new Toxiproxy(server, `http://127.0.0.1:${port}`);
  }

  /** A proxy on a free loopback port in front of 127.0.0.1:`upstreamPort`. */
  async proxy(name: string, upstreamPort: number): Promise<ToxicProxy> {
    const port = await freePort();
    const response = await fetch(`${this.api}/proxies`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name, listen: `127.0.0.1:${port}`, upstream: `127.0.0.1:${upstreamPort}`, enabled: true }),
    });
    if (response.status !== 201) throw new Error(`toxiproxy: proxy ${name} not created: ${response.status}`);
    return new ToxicProxy(this.api, name, port);
  }

  destroy(): Promise<void> {
    return this.server.destroy();
  }
}
