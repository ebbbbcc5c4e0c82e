import type { CacheObserver, Versioned } from './cache/local-cache';
import type { PublishObserver } from './sync/invalidation-publisher';
import type { ReceiveObserver } from './sync/invalidation-subscriber';
import type { OutboxObserver } from './sync/outbox-sweeper';
import type { RecoveryObserver, SyncMode } from './sync/recovery';
import type { TopologyKind } from './sync/redis-topology';
import type { StaleObserver } from './sync/stale-audit';
import type { SubscriberState } from './sync/transport';

/** How a cache started, once: its configuration as a dashboard shows it. */
export interface Started {
  /** This replica's id: the one given, or the one generated for it. */
  replicaId: string;
  mode: SyncMode;
  signed: boolean;
  topology: TopologyKind | 'custom';
  size: () => number;
}

/** What the synced cache itself reports: its start and its subscriber. */
export interface SyncObserver {
  onStarted?(info: Started): void;
  /** The subscriber came up (on `node`, host:port) or went down. */
  onSubscriberState?(state: SubscriberState, node?: string): void;
}

/**
 * Every event of a synced cache, one method each (24): the cache (hits, misses, loads, fills,
 * evictions), sending (published, receivers missing, members), receiving (messages, applied
 * invalidations, missed, rejected, implausible times, origins), recovery (trust, recoveries,
 * republished outbox marks), the stale audit (checked hits, stale windows, pending checks), and
 * `onError` for every failure that is retried rather than thrown. Implement the methods you need;
 * a plain object or a class instance is enough.
 */
export interface SyncedCacheObserver<V extends Versioned = Versioned>
  extends CacheObserver<V>,
    PublishObserver,
    ReceiveObserver,
    RecoveryObserver,
    OutboxObserver,
    StaleObserver,
    SyncObserver {}

type Method = (a?: unknown, b?: unknown, c?: unknown) => void;

/** Every method of an observer: its own properties and, for a class instance, its prototypes'. */
function methodsOf(observer: object): [string, Method][] {
  const names = new Set(Object.keys(observer));
  for (
    let proto = Object.getPrototypeOf(observer);
    proto && proto !== Object.prototype;
    proto = Object.getPrototypeOf(proto)
  )
    for (const name of Object.getOwnPropertyNames(proto)) if (name !== 'constructor') names.add(name);
  return [...names].flatMap((name) => {
    const method = (observer as Record<string, unknown>)[name];
    return typeof method === 'function' ? [[name, method.bind(observer) as Method] as [string, Method]] : [];
  });
}

/**
 * The one event channel of a synced cache: every part (the cache, publisher, subscriber, recovery
 * policy, stale audit, outbox sweeper) is given it as its observer and calls its methods directly;
 * the policy, the metrics adapters, logs and users' observers listen. Each method calls exactly
 * the listeners that have it, with fixed arguments (no rest array: some come once a message).
 */
export class EventChannel<V extends Versioned> {
  private readonly listeners = new Map<string, Method[]>();

  /** The channel, typed as the observer every part emits into. */
  get emit(): SyncedCacheObserver<V> {
    return this as unknown as SyncedCacheObserver<V>;
  }

  /** Adds a listener: from now on it hears every event it has a method for. */
  listen(observer: SyncedCacheObserver<V>): void {
    for (const [name, method] of methodsOf(observer)) {
      const calls = [...(this.listeners.get(name) ?? []), method];
      this.listeners.set(name, calls);
      const [first, second, third] = calls;
      (this as unknown as Record<string, Method>)[name] =
        calls.length === 1
          ? first!
          : calls.length === 2
            ? (a, b, c) => {
                first!(a, b, c);
                second!(a, b, c);
              }
            : calls.length === 3
              ? (a, b, c) => {
                  first!(a, b, c);
                  second!(a, b, c);
                  third!(a, b, c);
                }
              : (a, b, c) => {
                  for (const call of calls) call(a, b, c);
                };
    }
  }
}
