/**
 * Fault injection inside a replica, armed only through the admin port when CHAOS_ENABLED=1.
 * Each fault is armed for the next write(s) and disarms itself once used.
 */
export class ChaosSwitch {
  private crashArmed = false;
  private dropRemaining = 0;
  private delayRemaining = 0;
  private delayMs = 0;

  constructor(
    private readonly crash: () => void = () => process.kill(process.pid, 'SIGKILL'),
    private readonly pauseSubscriber?: (ms: number) => Promise<void>,
  ) {}

  armCrashBeforePublish(): void {
    this.crashArmed = true;
  }

  dropNextPublishes(count: number): void {
    this.dropRemaining = count;
  }

  delayNextPublishes(count: number, ms: number): void {
    this.delayRemaining = count;
    this.delayMs = ms;
  }

  async pauseSubscriberFor(ms: number): Promise<void> {
    if (!this.pauseSubscriber) throw new Error('this replica cannot pause its subscriber');
    await this.pauseSubscriber(ms);
  }

  state() {
    return {
      crashBeforePublish: this.crashArmed,
      dropNextPublishes: this.dropRemaining,
      delayNextPublishes: this.delayRemaining,
      delayMs: this.delayMs,
    };
  }

  /** Called after the database committed a write and before its invalidation is published. */
  afterCommit(): void {
    if (!this.crashArmed) return;
    this.crashArmed = false;
    this.crash();
  }

  /** How long to hold the next publish back (0: send now). */
  publishDelayMs(): number {
    if (this.delayRemaining <= 0) return 0;
    this.delayRemaining -= 1;
    return this.delayMs;
  }

  /** Whether to lose the next publish on the wire (its sequence number is used, so receivers see a gap). */
  shouldDropPublish(): boolean {
    if (this.dropRemaining <= 0) return false;
    this.dropRemaining -= 1;
    return true;
  }
}
