/** Every method name of an observer: its own properties and, for a class instance, its prototypes'. */
function methodNames(observer: object): string[] {
  const names = new Set(Object.keys(observer));
  for (
    let proto = Object.getPrototypeOf(observer);
    proto && proto !== Object.prototype;
    proto = Object.getPrototypeOf(proto)
  ) {
    for (const name of Object.getOwnPropertyNames(proto)) if (name !== 'constructor') names.add(name);
  }
  return [...names];
}

/**
 * One observer that tells every given observer, in order; observers without a method are
 * skipped. Plain objects and class instances alike. How many listeners (metrics, logs, the sync
 * policy, the bench) hear one component.
 */
export function combineObservers<T extends object>(...observers: (T | undefined)[]): T {
  const present = observers.filter((o): o is T => o !== undefined);
  if (present.length === 1) return present[0]!;
  const combined: Record<string, (...args: unknown[]) => void> = {};
  for (const name of new Set(present.flatMap(methodNames))) {
    const calls = present.flatMap((o) => {
      const method = (o as Record<string, unknown>)[name];
      return typeof method === 'function' ? [method.bind(o) as (...args: unknown[]) => void] : [];
    });
    // Fixed parameters, not a rest array: some events come once a message. No observer method
    // here takes more than three.
    combined[name] =
      calls.length === 1
        ? calls[0]!
        : (a, b, c, d) => {
            for (const call of calls) call(a, b, c, d);
          };
  }
  return combined as T;
}
