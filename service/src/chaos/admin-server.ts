import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { ChaosSwitch } from './chaos-switch';

const send = (res: ServerResponse, status: number, body: unknown) => {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
};

const intParam = (url: URL, name: string, min: number, max: number, fallback?: number): number => {
  const raw = url.searchParams.get(name);
  if (raw === null && fallback !== undefined) return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new RangeError(`${name} must be an integer from ${min} to ${max}`);
  }
  return value;
};

/**
 * The chaos admin API, on its own port so that it is never reachable through the service port:
 *   GET  /chaos                                   armed faults
 *   POST /chaos/crash-before-publish              the next write commits, then the process dies
 *   POST /chaos/drop-publishes?count=N            the next N invalidations are lost on the wire
 *   POST /chaos/delay-publishes?count=N&ms=M      the next N invalidations leave M ms late
 *   POST /chaos/pause-subscriber?ms=M             unsubscribe for M ms (messages meanwhile are lost)
 */
export function createAdminServer(chaos: ChaosSwitch): Server {
  return createServer(async (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://admin');
    try {
      if (req.method === 'GET' && url.pathname === '/chaos') return send(res, 200, chaos.state());
      if (req.method !== 'POST') return send(res, 405, { error: { code: 'method_not_allowed', message: 'use POST' } });
      switch (url.pathname) {
        case '/chaos/crash-before-publish':
          chaos.armCrashBeforePublish();
          break;
        case '/chaos/drop-publishes':
          chaos.dropNextPublishes(intParam(url, 'count', 1, 1_000_000, 1));
          break;
        case '/chaos/delay-publishes':
          chaos.delayNextPublishes(intParam(url, 'count', 1, 1_000_000, 1), intParam(url, 'ms', 1, 600_000));
          break;
        case '/chaos/pause-subscriber':
          await chaos.pauseSubscriberFor(intParam(url, 'ms', 1, 600_000));
          break;
        default:
          return send(res, 404, { error: { code: 'not_found', message: `no chaos action ${url.pathname}` } });
      }
      return send(res, 200, chaos.state());
    } catch (error) {
      return send(res, 400, { error: { code: 'invalid_chaos_request', message: (error as Error).message } });
    }
  });
}
