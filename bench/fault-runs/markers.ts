import { waitFor } from '../../service/local-stack/processes';
import type { Stack } from '../../service/local-stack/stack';
import { clock, type HistoryEvent } from '../../service/src/probe/history';

/**
 * Marker books, reused in turn, so a long run does not grow the collection by one book a fault. A
 * marker is written again only MARKERS faults later, so "stale books left" covers the last ones.
 */
export const MARKERS = 8;

export interface Marker {
  id: string;
  version: number;
}

export async function answer(url: string, init?: RequestInit) {
  const sentAt = clock();
  try {
    const response = await fetch(url, { ...init, signal: AbortSignal.timeout(3000) });
    const body = (await response.json().catch(() => undefined)) as
      | { id?: string; version?: number; error?: string }
      | undefined;
    const ok = response.status >= 200 && response.status < 300 && body?.version !== undefined;
    const status = `${response.status}${body?.error ? ` ${body.error}` : ''}`;
    return { sentAt, receivedAt: clock(), ok, body, status, hit: response.headers.get('x-cache') === 'HIT' };
  } catch (error) {
    return { sentAt, receivedAt: clock(), ok: false, body: undefined, status: (error as Error).name, hit: false };
  }
}

/** A new marker book. */
export async function createMarker(stack: Stack, history: HistoryEvent[]): Promise<Marker> {
  const writer = stack.replicas[1]!;
  const name = `marker-${stack.channel}-${history.length}`;
  const failures: string[] = [];
  // A create can fail right after a fault (a replica still catching up, the database slow): retry.
  const created = await waitFor(
    async () => {
      const attempt = await answer(`${writer.url}/books`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ name, author: 'chaos', year: 2000 }),
      });
      if (attempt.ok) return attempt;
      failures.push(attempt.status);
      if (attempt.status.startsWith('409')) {
        const found = await answer(`${writer.url}/books?name=${encodeURIComponent(name)}`);
        if (found.ok) return found;
      }
      return undefined;
    },
    { timeoutMs: 30_000, intervalMs: 500, message: 'the marker book created' },
  ).catch(() => {
    throw new Error(`the chaos run could not create its marker book: ${failures.join(', ')}`);
  });
  const marker = { id: String(created.body!.id), version: created.body!.version! };
  history.push({ op: 'write', replica: writer.id, ...marker, sentAt: created.sentAt, receivedAt: created.receivedAt });
  return marker;
}

/** Reads the marker on every replica until it is a hit there (whatever version each holds). */
export async function cacheEverywhere(stack: Stack, marker: Marker, history: HistoryEvent[]): Promise<void> {
  for (const replica of stack.replicas) {
    await waitFor(
      async () => {
        const read = await answer(`${replica.url}/books/${marker.id}`);
        history.push({ op: 'read', replica: replica.id, id: marker.id, ...at(read) });
        return read.hit;
      },
      { timeoutMs: 10_000, intervalMs: 20, message: `${replica.id} cached the marker` },
    );
  }
}

export const at = (a: {
  sentAt: number;
  receivedAt: number;
  ok: boolean;
  body?: { version?: number };
  hit: boolean;
}) => ({
  sentAt: a.sentAt,
  receivedAt: a.receivedAt,
  version: a.ok ? a.body!.version : undefined,
  hit: a.ok && a.hit,
});

/** Writes the marker once (a crash before publish answers nothing; the write is committed all the same). */
export async function writeMarker(
  stack: Stack,
  via: number,
  marker: Marker,
  history: HistoryEvent[],
): Promise<boolean> {
  const replica = stack.replicas[via]!;
  const written = await answer(`${replica.url}/books/${marker.id}`, {
    method: 'PATCH',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ year: 2001 }),
  });
  history.push({ op: 'write', replica: replica.id, id: marker.id, ...at(written) });
  return written.ok;
}

export async function readMarker(stack: Stack, id: string, history: HistoryEvent[]): Promise<void> {
  for (const replica of stack.replicas) {
    const read = await answer(`${replica.url}/books/${id}`);
    history.push({ op: 'read', replica: replica.id, id, ...at(read) });
  }
}
