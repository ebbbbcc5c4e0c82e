/**
 * Date.now() to within `resolutionMs`, read as a field: Date.now() costs about 50 ns here, a third
 * of a whole cache hit (bench/read-path/guarded-hit.ts). For checks that need no finer time (is
 * an entry due for a refresh), never for expiry or fences. Its timer does not keep the process up.
 */
export class CoarseClock {
  now = Date.now();
  private readonly timer: NodeJS.Timeout;

  constructor(resolutionMs: number) {
    this.timer = setInterval(() => {
      this.now = Date.now();
    }, resolutionMs).unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }
}
