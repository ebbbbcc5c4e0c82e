/**
 * Observations held in plain arrays and handed to a histogram in one go: when the histogram
 * collects (every scrape), or once `capacity` are waiting. Each prom-client `observe` hashes its
 * labels and walks the buckets; on the receive path that costs every message, in a batch it is
 * a warm loop once per scrape. Nothing is dropped: a full buffer drains at once.
 */
export class PendingObservations {
  private readonly values: Float64Array;
  private readonly traceIds: (string | undefined)[] = [];
  private count = 0;

  constructor(
    private readonly drain: (value: number, traceId: string | undefined) => void,
    private readonly capacity = 1024,
  ) {
    this.values = new Float64Array(capacity);
  }

  get size(): number {
    return this.count;
  }

  add(value: number, traceId?: string): void {
    this.values[this.count] = value;
    this.traceIds[this.count] = traceId;
    this.count += 1;
    if (this.count === this.capacity) this.flush();
  }

  flush(): void {
    const count = this.count;
    // Zeroed first: a drain that throws must not leave the same values to be observed twice.
    this.count = 0;
    for (let i = 0; i < count; i += 1) {
      const traceId = this.traceIds[i];
      this.traceIds[i] = undefined;
      this.drain(this.values[i]!, traceId);
    }
  }
}
