import type { FaultyTransport } from './faulty-transport';

/**
 * Dies at once: SIGKILL. A process that is PID 1 (node as a container's entrypoint) is not killed
 * by a signal it sends itself, so it then exits on the spot: nothing asynchronous (no publish) runs.
 */
function crashNow(): void {
  process.kill(process.pid, 'SIGKILL');
  process.exit(137);
}

/**
 * Fault injection inside a replica, armed only through the admin port when CHAOS_ENABLED=1.
 * The crash sits between the database commit and the publish (the book service calls
 * `afterCommit`); every other fault lives in the transport wrapper.
 */
export class ChaosSwitch {
  private crashArmed = false;

  constructor(
    private readonly transport?: FaultyTransport,
    private readonly crash: () => void = crashNow,
  ) {}

  armCrashBeforePublish(): void {
    this.crashArmed = true;
  }

  dropNextPublishes(count: number): void {
    this.faultyTransport().dropNextPublishes(count);
  }

  delayNextPublishes(count: number, ms: number): void {
    this.faultyTransport().delayNextPublishes(count, ms);
  }

  pauseSubscriberFor(ms: number): Promise<void> {
    return this.faultyTransport().pauseSubscriber(ms);
  }

  /** Unsubscribes until the returned function resubscribes (tests: the hold cannot end too early). */
  holdSubscriber(): Promise<() => Promise<void>> {
    return this.faultyTransport().holdSubscriber();
  }

  state() {
    const transport = this.transport?.faults() ?? { dropNextPublishes: 0, delayNextPublishes: 0, delayMs: 0 };
    return { crashBeforePublish: this.crashArmed, ...transport };
  }

  /** Called after the database committed a write and before its invalidation is published. */
  afterCommit(): void {
    if (!this.crashArmed) return;
    this.crashArmed = false;
    this.crash();
  }

  private faultyTransport(): FaultyTransport {
    if (!this.transport) throw new Error('this replica has no fault-injecting transport');
    return this.transport;
  }
}
