import type { Server } from 'node:http';
import type { Socket } from 'node:net';

/**
 * Tracks in-flight requests so shutdown can stop accepting, close idle keep-alive sockets,
 * and wait for the requests already running before the process exits.
 */
export function trackInFlight(server: Server) {
  let inFlight = 0;
  let drained: (() => void) | undefined;
  const sockets = new Set<Socket>();
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  server.on('request', (_req, res) => {
    inFlight += 1;
    res.once('close', () => {
      inFlight -= 1;
      if (inFlight === 0) drained?.();
    });
  });

  return {
    get inFlight() {
      return inFlight;
    },
    /** Stops accepting and resolves once every in-flight request has finished. */
    async drain(): Promise<void> {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      if (inFlight > 0) await new Promise<void>((resolve) => (drained = resolve));
      server.closeIdleConnections();
      for (const socket of sockets) socket.destroySoon?.();
      await closed;
    },
  };
}
