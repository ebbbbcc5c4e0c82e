/**
 * One observer that tells every given observer, in order; observers without a method are
 * skipped. How the wiring connects many listeners (metrics, the sync policy, the bench) to one
 * component.
 */
export function combineObservers<T extends object>(...observers: (T | undefined)[]): T {
  const present = observers.filter((o): o is T => o !== undefined);
  if (present.length === 1) return present[0]!;
  const combined: Record<string, (...args: unknown[]) => void> = {};
  for (const name of new Set(present.flatMap((o) => Object.keys(o)))) {
    const calls = present.flatMap((o) => {
      const method = (o as Record<string, unknown>)[name];
      return typeof method === 'function' ? [method.bind(o) as (...args: unknown[]) => void] : [];
    });
    combined[name] =
      calls.length === 1
        ? calls[0]!
        : (...args) => {
            for (const call of calls) call(...args);
          };
  }
  return combined as T;
}
