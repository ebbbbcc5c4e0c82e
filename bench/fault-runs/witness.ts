import type { Stack } from '../../service/local-stack/stack';
import { postBook } from '../servers';

/**
 * A book written exactly once, during the fault, and then only read, on every replica, every
 * 100 ms. The probe's traffic rewrites its books every second or so, and each rewrite's
 * invalidation repairs what a lost one left behind; the witness has no later write to hide
 * behind, so it shows how long a lost invalidation really lasts: until TTL in the classic pubsub mode.
 */
export interface WitnessResult {
  /**
   * Per replica: seconds from the write being sent to the first read returning it, if the replica
   * answered with the old version before that; 0 if it never did (a replica that is down or
   * paused answers nothing, and that is not a stale answer).
   */
  seconds: number[];
  /** Replicas still serving the old version when the run ended. */
  open: boolean[];
}

const POLL_MS = 100;

async function json(response: Response) {
  if (!response.ok) throw new Error(`${response.url}: ${response.status}`);
  return (await response.json()) as { id: string; version: number };
}

export class Witness {
  private sentAt = 0;
  private version = 0;
  private readonly freshAt: (number | undefined)[];
  private readonly servedStale: boolean[];
  private timer?: NodeJS.Timeout;

  private constructor(
    private readonly stack: Stack,
    readonly id: string,
    private readonly cachedVersion: number,
  ) {
    this.freshAt = stack.replicas.map(() => undefined);
    this.servedStale = stack.replicas.map(() => false);
  }

  /** Creates the book and caches it on every replica (a miss, then a hit). */
  static async create(stack: Stack): Promise<Witness> {
    const created = await postBook(stack.replicas[1]!.url, {
      name: `witness-${Date.now()}`,
      author: 'witness',
      year: 2000,
    });
    for (const replica of stack.replicas) {
      for (let attempt = 0; ; attempt += 1) {
        const response = await fetch(`${replica.url}/books/${created.id}`);
        await json(response);
        if (response.headers.get('x-cache') === 'HIT') break;
        if (attempt > 50) throw new Error(`${replica.id} never cached the witness`);
      }
    }
    return new Witness(stack, created.id, created.version);
  }

  /** The version its one write produces. */
  get writtenVersion(): number {
    return this.cachedVersion + 1;
  }

  /** Writes it once through replica `via` (which may crash on it), then watches every replica. */
  async write(via: number): Promise<void> {
    this.sentAt = Date.now();
    this.version = this.cachedVersion + 1;
    const body = JSON.stringify({ year: 2001 });
    await fetch(`${this.stack.replicas[via]!.url}/books/${this.id}`, {
      method: 'PATCH',
      body,
      headers: { 'content-type': 'application/json' },
    }).catch(
      () => undefined, // a crash before publish answers nothing; the write is committed all the same
    );
    this.timer = setInterval(() => void this.poll(), POLL_MS).unref();
  }

  stop(): WitnessResult {
    clearInterval(this.timer);
    const end = Date.now();
    return {
      seconds: this.freshAt.map((at, i) => (this.servedStale[i] ? ((at ?? end) - this.sentAt) / 1000 : 0)),
      open: this.freshAt.map((at, i) => this.servedStale[i]! && at === undefined),
    };
  }

  private async poll(): Promise<void> {
    await Promise.all(
      this.stack.replicas.map(async (replica, i) => {
        if (this.freshAt[i] !== undefined) return;
        try {
          const book = await json(
            await fetch(`${replica.url}/books/${this.id}`, { signal: AbortSignal.timeout(1000) }),
          );
          if (this.freshAt[i] !== undefined) return;
          if (book.version >= this.version) this.freshAt[i] = Date.now();
          else this.servedStale[i] = true;
        } catch {
          // killed or paused: no answer is not a stale answer
        }
      }),
    );
  }
}
