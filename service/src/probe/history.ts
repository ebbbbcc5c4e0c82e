import { performance } from 'node:perf_hooks';

/** The history's clock (ms since the epoch, sub-millisecond): every event of one history is timed by it. */
export const clock = () => performance.timeOrigin + performance.now();

/**
 * The client's whole history, as a checker reads it afterwards: every read and write the probe (or
 * a chaos run's marker books) sent, with when it was sent and answered, and what came back.
 */
export interface HistoryEvent {
  op: 'read' | 'write';
  replica: string;
  id: string;
  sentAt: number;
  receivedAt: number;
  /** The version answered; undefined when the request failed (no answer, or not 200). */
  version?: number;
  /** A read the replica answered from its cache (X-Cache: HIT). */
  hit?: boolean;
}

export interface HistoryStaleRead {
  replica: string;
  id: string;
  sentAt: number;
  receivedAt: number;
  /** How long after a newer version was first known (acknowledged, or returned by any read) this read was sent, s. */
  ageSeconds: number;
  /** Served from the replica's cache: a hit its stale audit could sample. */
  hit: boolean;
}

export interface HistoryCheck {
  readsJudged: number;
  staleReads: HistoryStaleRead[];
  /** Books a replica still served stale in the final reads (sent at or after `finalFrom`). */
  staleBooksLeft: { replica: string; id: string }[];
  /** Acknowledged writes whose version did not grow past one acknowledged before they were sent. */
  lostWrites: number;
  /**
   * Fresh reads that returned an older version than a write sent before they were answered (and
   * committed: its version was seen): the client cannot call them stale, while a check that dates a
   * version by its commit, as the service's audit does, may.
   */
  concurrentReads: number;
}

/**
 * Judges every read of a history, offline: a read is stale when it returned a version older than
 * one the client knew was committed before the read was sent, because a write of it had been
 * acknowledged or a read had returned it. Only answers count (a failed read is not judged).
 */
export function checkHistory(events: readonly HistoryEvent[], finalFrom: number): HistoryCheck {
  const byBook = new Map<string, HistoryEvent[]>();
  for (const event of events) {
    if (event.version === undefined) continue;
    const list = byBook.get(event.id) ?? [];
    list.push(event);
    byBook.set(event.id, list);
  }
  const staleReads: HistoryStaleRead[] = [];
  const lastFinal = new Map<string, { sentAt: number; stale: boolean; replica: string; id: string }>();
  let readsJudged = 0;
  let lostWrites = 0;
  let concurrentReads = 0;
  for (const [id, list] of byBook) {
    // What was known when: every answer, by the time it arrived, with the newest version so far.
    const known = list.map((e) => ({ version: e.version!, at: e.receivedAt })).sort((a, b) => a.at - b.at);
    const newestSoFar: number[] = [];
    for (const [i, k] of known.entries()) newestSoFar.push(Math.max(k.version, newestSoFar[i - 1] ?? -Infinity));
    // The first index whose value passes `test` (both arrays only grow); known.length if none.
    const firstIndex = (passes: (i: number) => boolean) => {
      let [low, high] = [0, known.length];
      while (low < high) {
        const mid = (low + high) >> 1;
        if (passes(mid)) high = mid;
        else low = mid + 1;
      }
      return low;
    };
    // The newest version known strictly before t.
    const newestBefore = (t: number) => newestSoFar[firstIndex((i) => known[i]!.at >= t) - 1] ?? -Infinity;
    // When a version above v was first known.
    const firstKnownAbove = (v: number) => known[firstIndex((i) => newestSoFar[i]! > v)]?.at;
    // Writes by the time they were sent, with the newest version any of them made by then; a write
    // without an answer made the next version if it committed at all (one write at a time a book).
    const newestKnown = newestSoFar.at(-1) ?? -Infinity;
    const writes = list
      .filter((e) => e.op === 'write')
      .concat(events.filter((e) => e.op === 'write' && e.id === id && e.version === undefined))
      .map((w) => ({ sentAt: w.sentAt, version: w.version ?? newestBefore(w.sentAt) + 1 }))
      .filter((w) => w.version <= newestKnown)
      .sort((a, b) => a.sentAt - b.sentAt);
    const writtenSoFar: number[] = [];
    for (const [i, w] of writes.entries()) writtenSoFar.push(Math.max(w.version, writtenSoFar[i - 1] ?? -Infinity));
    const newestWrittenBefore = (t: number) => {
      let [low, high] = [0, writes.length];
      while (low < high) {
        const mid = (low + high) >> 1;
        if (writes[mid]!.sentAt >= t) high = mid;
        else low = mid + 1;
      }
      return writtenSoFar[low - 1] ?? -Infinity;
    };
    for (const event of list) {
      if (event.op === 'write') {
        if (newestBefore(event.sentAt) >= event.version!) lostWrites += 1;
        continue;
      }
      readsJudged += 1;
      const stale = newestBefore(event.sentAt) > event.version!;
      if (!stale && newestWrittenBefore(event.receivedAt) > event.version!) concurrentReads += 1;
      if (stale) {
        const ageSeconds = (event.sentAt - firstKnownAbove(event.version!)!) / 1000;
        staleReads.push({
          replica: event.replica,
          id,
          sentAt: event.sentAt,
          receivedAt: event.receivedAt,
          ageSeconds,
          hit: event.hit === true,
        });
      }
      if (event.sentAt >= finalFrom) {
        const key = `${event.replica}\u0000${id}`;
        const previous = lastFinal.get(key);
        if (!previous || previous.sentAt <= event.sentAt)
          lastFinal.set(key, { sentAt: event.sentAt, stale, replica: event.replica, id });
      }
    }
  }
  const staleBooksLeft = [...lastFinal.values()]
    .filter((r) => r.stale)
    .map(({ replica, id }) => ({ replica, id }))
    .sort((a, b) => a.replica.localeCompare(b.replica) || a.id.localeCompare(b.id));
  return { readsJudged, staleReads, staleBooksLeft, lostWrites, concurrentReads };
}

/** How many nines an SLI reached: -log10 of its error ratio (errors 0: at least log10 of the events). */
export function nines(errors: number, total: number): { value: number; atLeast: boolean } | undefined {
  if (total <= 0) return undefined;
  if (errors <= 0) return { value: Math.log10(total), atLeast: true };
  return { value: -Math.log10(errors / total), atLeast: false };
}

export const formatNines = (n: ReturnType<typeof nines>) =>
  n === undefined ? 'n/a' : `${n.atLeast ? '≥ ' : ''}${n.value.toFixed(2)}`;
