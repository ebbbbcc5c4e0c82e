/** Epoch milliseconds with sub-millisecond precision, comparable across processes on one host. */
export const preciseNow = (): number => performance.timeOrigin + performance.now();
