import { waitFor } from '../../local-stack/processes';
import type { Stack } from '../../local-stack/stack';

/** Writes the stack's probe has had acknowledged so far. */
export const probeWrites = (c: Stack) => c.probe.summary().writes.ok;

/** Steady traffic first: caches warm on every replica. */
export async function warmUp(c: Stack): Promise<void> {
  await waitFor(() => c.probe.summary().replicas.every((r) => r.reads >= 60) && probeWrites(c) >= 20, {
    timeoutMs: 20_000,
    message: 'warm-up traffic',
  });
}

/** Keeps traffic going (through a fault) until the probe has had `count` more writes acknowledged. */
export async function moreWrites(c: Stack, count: number): Promise<void> {
  const target = probeWrites(c) + count;
  const errors = c.probe.summary().writes.errors;
  await waitFor(() => probeWrites(c) >= target, { timeoutMs: 15_000, message: `${count} more probe writes` }).catch(
    (error: Error) => {
      const now = c.probe.summary().writes;
      throw new Error(`${error.message} (${target - now.ok} short; ${now.errors - errors} writes failed meanwhile)`);
    },
  );
}
