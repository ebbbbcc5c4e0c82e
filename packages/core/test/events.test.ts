import { EventChannel } from '../src/events';

describe('EventChannel (the one channel every part emits into)', () => {
  it('calls exactly the listeners that have the event, in the order they listened, with its arguments', () => {
    const channel = new EventChannel();
    const calls: string[] = [];
    // Before anyone listens, an event goes nowhere (and throws nothing).
    channel.emit.onMiss?.('k0');
    for (let n = 1; n <= 5; n += 1) {
      channel.listen({ onEvict: (key, value, reason) => calls.push(`${n}:${key}:${value.version}:${reason}`) });
      channel.emit.onEvict?.('k', { id: 'a', version: n }, 'flush');
    }
    expect(calls).toEqual([
      '1:k:1:flush',
      ...['1', '2'].map((l) => `${l}:k:2:flush`),
      ...['1', '2', '3'].map((l) => `${l}:k:3:flush`),
      ...['1', '2', '3', '4'].map((l) => `${l}:k:4:flush`),
      ...['1', '2', '3', '4', '5'].map((l) => `${l}:k:5:flush`),
    ]);
    // An event without a listener of its own reaches no other listener.
    channel.emit.onHit?.('k', { id: 'a', version: 9 });
    expect(calls).toHaveLength(15);
  });

  it('hears a class instance through its prototype, with `this` bound', () => {
    class Counter {
      missed = 0;
      onMissed(count: number) {
        this.missed += count;
      }
    }
    const channel = new EventChannel();
    const counter = new Counter();
    channel.listen(counter);
    channel.listen({ onMissed: () => undefined });
    channel.emit.onMissed?.(3, 'a');
    channel.emit.onMissed?.(2, 'b');
    expect(counter.missed).toBe(5);
  });
});
