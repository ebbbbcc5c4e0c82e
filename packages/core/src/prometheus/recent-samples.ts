/** The nearest-rank q-quantile of values sorted ascending (0 when there are none). */
export function nearestRank(sorted: ArrayLike<number>, q: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}

/**
 * The last `capacity` observations and when they were made: exact quantiles over a recent
 * window, where a histogram can only name the bucket edge a quantile falls under. Recording is
 * two array writes, so it can sit on the receive path.
 */
export class RecentSamples {
  private readonly values: Float64Array;
  private readonly times: Float64Array;
  private next = 0;
  private count = 0;

  constructor(
    private readonly capacity = 4096,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.values = new Float64Array(capacity);
    this.times = new Float64Array(capacity);
  }

  observe(value: number): void {
    this.values[this.next] = value;
    this.times[this.next] = this.now();
    this.next = (this.next + 1) % this.capacity;
    if (this.count < this.capacity) this.count += 1;
  }

  /** The values observed in the last `seconds`, sorted ascending. */
  within(seconds: number): Float64Array {
    const since = this.now() - seconds * 1000;
    const kept: number[] = [];
    for (let i = 0; i < this.count; i += 1) if (this.times[i]! >= since) kept.push(this.values[i]!);
    return Float64Array.from(kept).sort();
  }
}
