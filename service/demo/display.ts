import type { EventLog } from './director';
import type { Monitor } from './monitor';
import { renderPlain, renderView, type ViewState } from './view';

/**
 * What the demo shows once a second: the 80x24 view on a terminal, one plain line otherwise (and
 * each event as its own line). It is also the event log every part of the demo writes to.
 */
export class Display implements EventLog {
  readonly tty = process.stdout.isTTY === true;
  readonly state: ViewState;
  private timer?: NodeJS.Timeout;
  private monitor?: Monitor;
  private readonly keyed = new Map<string, { t: number; text: string }>();
  private readonly printedAt = new Map<string, number>();

  constructor(private readonly mode: () => string) {
    this.state = { selected: 2, events: [], urls: [], mode: mode() };
  }

  set urls(urls: string[]) {
    this.state.urls = this.tty ? urls : [];
  }

  log(text: string, key?: string, last = false): void {
    const t = this.monitor?.samples.at(-1)?.t ?? 0;
    const existing = key ? this.keyed.get(key) : undefined;
    if (existing) existing.text = text;
    else {
      const event = { t, text };
      this.state.events.push(event);
      if (key) this.keyed.set(key, event);
    }
    if (key && last) this.keyed.delete(key);
    if (this.tty) return;
    // Plain output: a progress line (keyed) at most once a second, and its last text.
    const now = Date.now();
    if (key && !last && now - (this.printedAt.get(key) ?? 0) < 1000) return;
    if (key) this.printedAt.set(key, now);
    process.stdout.write(`demo: ${text}\n`);
  }

  start(monitor: Monitor): void {
    this.monitor = monitor;
    this.timer = setInterval(async () => {
      const sample = await monitor.sample();
      this.state.sample = sample;
      this.state.mode = this.mode();
      this.draw();
      if (!this.tty) process.stdout.write(`${renderPlain(sample)}\n`);
    }, 1000);
  }

  draw(): void {
    if (!this.tty || !this.state.sample) return;
    const [width, height] = [process.stdout.columns || 80, process.stdout.rows || 24];
    process.stdout.write(`\x1b[H\x1b[2J${renderView(this.state, width, height).join('\n')}`);
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }
}
