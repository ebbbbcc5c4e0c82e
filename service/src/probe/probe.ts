import { GroundTruth, type ReadResult } from './ground-truth';
import { type HistoryEvent, clock as now } from './history';
import { createProbeMetrics, type ProbeMetrics } from './probe-metrics';
import { keyPicker, type Popularity, seededRandom } from './random';
import { type ProbeSummary, ProbeTally, summarize } from './summary';

export interface ProbeOptions {
  targets: string[];
  /** Targets that take writes (default: all); reads always go to every target. */
  writeTargets?: string[];
  /** Operations per second, reads and writes together. */
  rate: number;
  /** Seconds; 0 runs until stop(). */
  duration: number;
  readRatio: number;
  keys: number;
  popularity: Popularity;
  seed: number;
  maxInFlight?: number;
  requestTimeoutMs?: number;
  /** Every read and write is appended here, for a checker to read afterwards (checkHistory). */
  history?: HistoryEvent[];
}

export interface Probe {
  metrics: ProbeMetrics;
  truth: GroundTruth;
  /** Replica id (from X-Replica) per target URL. */
  replicas: Map<string, string>;
  books: { id: string; name: string }[];
  /** Resolves when the duration has passed or stop() was called, once in-flight requests are done. */
  done: Promise<ProbeSummary>;
  stop(): void;
  summary(): ProbeSummary;
  /** Reads every book once on every replica: stale episodes that ended unseen are closed, the rest stay open. */
  readAll(): Promise<void>;
}

async function request(method: string, url: string, timeoutMs: number, body?: unknown) {
  const response = await fetch(url, {
    method,
    headers: body === undefined ? undefined : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(timeoutMs),
  });
  const json = (await response.json().catch(() => undefined)) as Record<string, unknown> | undefined;
  return {
    status: response.status,
    json,
    replica: response.headers.get('x-replica'),
    hit: response.headers.get('x-cache') === 'HIT',
    /** Answered stale on purpose (fail-safe), and saying so. */
    marked: response.headers.get('x-cache') === 'STALE',
  };
}

/** Creates (or finds, when a previous run with the same seed made them) the probe's books. */
async function ensureBooks(target: string, count: number, seed: number, timeoutMs: number) {
  const books: { id: string; name: string; version: number }[] = [];
  for (let i = 0; i < count; i += 1) {
    const name = `probe-${seed}-${i}`;
    let response = await request('POST', `${target}/books`, timeoutMs, { name, author: 'probe', year: 2000 });
    if (response.status === 409)
      response = await request('GET', `${target}/books?name=${encodeURIComponent(name)}`, timeoutMs);
    if (response.status >= 300 || !response.json)
      throw new Error(`probe: cannot create ${name} on ${target}: ${response.status}`);
    books.push({ id: String(response.json.id), name, version: Number(response.json.version) });
  }
  return books;
}

/** Black-box traffic and staleness checker: talks to every replica directly and trusts only its own acks. */
export async function startProbe(options: ProbeOptions): Promise<Probe> {
  const timeoutMs = options.requestTimeoutMs ?? 2000;
  const maxInFlight = options.maxInFlight ?? 64;
  const writeTargets = options.writeTargets ?? options.targets;
  const replicas = new Map<string, string>();
  for (const target of options.targets) {
    const health = await request('GET', `${target}/healthz`, timeoutMs);
    replicas.set(target, health.replica ?? new URL(target).host);
  }
  const metrics = createProbeMetrics([...replicas.values()]);
  const tally = new ProbeTally([...replicas.values()]);
  const truth = new GroundTruth();
  const random = seededRandom(options.seed);
  const pick = keyPicker(options.keys, options.popularity, random);
  const created = await ensureBooks(options.targets[0]!, options.keys, options.seed, timeoutMs);
  const startedAt = now();
  for (const book of created) {
    truth.recordAck(book.id, book.version, startedAt);
    options.history?.push({
      op: 'write',
      replica: replicas.get(options.targets[0]!)!,
      id: book.id,
      sentAt: startedAt,
      receivedAt: startedAt,
      version: book.version,
    });
  }
  const books = created.map(({ id, name }) => ({ id, name }));

  let stopped = false;
  let issued = 0;
  let inFlight = 0;
  let finish: () => void = () => undefined;
  const finished = new Promise<void>((resolve) => (finish = resolve));

  const read = async (target: string, id: string) => {
    const replica = replicas.get(target)!;
    const sentAt = now();
    let result: ReadResult = 'error';
    let version: number | undefined;
    let hit: boolean | undefined;
    try {
      const response = await request('GET', `${target}/books/${id}`, timeoutMs);
      if (response.status === 200 && response.json) {
        version = Number(response.json.version);
        hit = response.hit;
        const classified = truth.classify(replica, id, version, sentAt, now());
        result = classified.result;
        if (response.marked && result !== 'error') {
          metrics.markedStale.inc({ replica, result });
          tally.markedStale(replica, result);
        }
        if (classified.endedWindow) metrics.staleWindow.observe({ replica }, classified.endedWindow.seconds);
      }
    } catch (error) {
      result = 'error';
      // Given up on: the replica may still serve it later, unseen; the summary counts these apart.
      if ((error as Error).name === 'TimeoutError') tally.abandon(replica);
    }
    metrics.reads.inc({ replica, result });
    tally.read(replica, result);
    options.history?.push({ op: 'read', replica, id, sentAt, receivedAt: now(), version, hit });
  };

  const write = async (target: string, id: string) => {
    const replica = replicas.get(target)!;
    const sentAt = now();
    try {
      const response = await request('PATCH', `${target}/books/${id}`, timeoutMs, {
        year: 1000 + Math.floor(random() * 9000),
      });
      if (response.status === 200 && response.json) {
        const [version, ackAt] = [Number(response.json.version), now()];
        truth.recordAck(id, version, ackAt, sentAt);
        options.history?.push({ op: 'write', replica, id, sentAt, receivedAt: ackAt, version });
        metrics.writes.inc({ replica, result: 'ok' });
        tally.write(true);
        return;
      }
    } catch {
      // The write may or may not have committed; a later read of a newer version is still fresh.
    }
    metrics.writes.inc({ replica, result: 'error' });
    tally.write(false);
    options.history?.push({ op: 'write', replica, id, sentAt, receivedAt: now() });
  };

  // A book is written again only once its previous write was answered (as one client editing it
  // would): the order of acknowledgments is the order of versions, and a write hanging on a Redis
  // outage does not pile up more of the same. Writes racing the outbox settle and the sweepers
  // remain, and GroundTruth.lostWrites is the alarm should the store lose one; writers racing
  // each other are racing-writers.test.ts's.
  const writing = new Set<string>();
  const operation = () => {
    const id = books[pick()]!.id;
    const readTarget = options.targets[Math.floor(random() * options.targets.length)]!;
    const writeTarget = writeTargets[Math.floor(random() * writeTargets.length)]!;
    if (random() < options.readRatio || writing.has(id)) return read(readTarget, id);
    writing.add(id);
    return write(writeTarget, id).finally(() => writing.delete(id));
  };

  const tick = () => {
    const elapsed = (now() - startedAt) / 1000;
    if (stopped || (options.duration > 0 && elapsed >= options.duration)) {
      stopped = true;
      clearInterval(timer);
      if (inFlight === 0) finish();
      return;
    }
    const due = Math.floor(elapsed * options.rate) - issued;
    for (let i = 0; i < due && inFlight < maxInFlight; i += 1) {
      issued += 1;
      inFlight += 1;
      void operation().finally(() => {
        inFlight -= 1;
        if (stopped && inFlight === 0) finish();
      });
    }
    // Behind and at the in-flight limit: skip what cannot be sent rather than bursting later.
    if (inFlight >= maxInFlight) issued = Math.floor(elapsed * options.rate);
  };
  const timer = setInterval(tick, 5);

  const summary = () => summarize(tally, truth, now());
  return {
    metrics,
    truth,
    replicas,
    books,
    stop() {
      stopped = true;
    },
    summary,
    async readAll() {
      for (const target of options.targets) await Promise.all(books.map(({ id }) => read(target, id)));
    },
    done: finished.then(summary),
  };
}
