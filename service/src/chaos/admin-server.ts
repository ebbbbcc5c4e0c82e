import { createHash, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { ChaosSwitch } from './chaos-switch';

const send = (res: ServerResponse, status: number, body: unknown) => {
  if (res.headersSent) return;
  res.writeHead(status, { 'content-type': 'application/json', connection: 'close' });
  res.end(JSON.stringify(body));
};
const error = (res: ServerResponse, status: number, code: string, message: string) =>
  send(res, status, { error: { code, message } });

const intParam = (url: URL, name: string, min: number, max: number, fallback?: number): number => {
  const raw = url.searchParams.get(name);
  if (raw === null && fallback !== undefined) return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new RangeError(`${name} must be an integer from ${min} to ${max}`);
  }
  return value;
};

// Compared as digests, so the comparison takes the same time whatever the length given.
const digest = (value: string) => createHash('sha256').update(value).digest();

/**
 * The chaos admin API, on its own port (bound to loopback unless CHAOS_HOST says otherwise) and
 * never on the service port. Every request needs `Authorization: Bearer <CHAOS_TOKEN>`; actions
 * are POSTs with a JSON content type (no body is read):
 *   GET  /chaos                                   armed faults
 *   POST /chaos/crash-before-publish              the next write commits, then the process dies
 *   POST /chaos/drop-publishes?count=N            the next N invalidations are lost on the wire
 *   POST /chaos/delay-publishes?count=N&ms=M      the next N invalidations leave M ms late
 *   POST /chaos/pause-subscriber?ms=M             unsubscribe for M ms (messages meanwhile are lost)
 * No request, however malformed, can throw out of the handler.
 */
export function createAdminServer(chaos: ChaosSwitch, token: string): Server {
  const expected = digest(`Bearer ${token}`);
  const server = createServer(async (req: IncomingMessage, res: ServerResponse) => {
    req.resume(); // a body is never used; drained so the socket can close cleanly
    try {
      await handle(req, res);
    } catch (failure) {
      error(res, 500, 'internal', (failure as Error).message.slice(0, 200));
    }
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    let url: URL;
    try {
      url = new URL(req.url ?? '/', 'http://admin');
    } catch {
      return error(res, 400, 'invalid_url', 'the request target is not a valid path');
    }
    if (!timingSafeEqual(digest(req.headers.authorization ?? ''), expected)) {
      return error(res, 401, 'unauthorized', 'give Authorization: Bearer <CHAOS_TOKEN>');
    }
    if (req.method === 'GET' && url.pathname === '/chaos') return send(res, 200, chaos.state());
    if (req.method !== 'POST') return error(res, 405, 'method_not_allowed', 'use POST');
    if (!/^application\/json\s*(;|$)/i.test(req.headers['content-type'] ?? '')) {
      return error(res, 415, 'unsupported_media_type', 'send Content-Type: application/json');
    }
    try {
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
          return error(res, 404, 'not_found', `no chaos action ${url.pathname.slice(0, 100)}`);
      }
    } catch (failure) {
      return error(res, 400, 'invalid_chaos_request', (failure as Error).message.slice(0, 200));
    }
    return send(res, 200, chaos.state());
  }

  server.headersTimeout = 5000;
  server.requestTimeout = 10_000;
  // Malformed HTTP (bad request lines, oversized headers) never reaches the handler.
  server.on('clientError', (_err, socket) => {
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nconnection: close\r\n\r\n');
    else socket.destroy();
  });
  return server;
}
