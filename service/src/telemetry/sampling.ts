/** Reads are sampled at this ratio unless OTEL_TRACES_SAMPLER says otherwise; writes always are. */
export const DEFAULT_READ_SAMPLE_RATIO = 0.05;

const READ_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);
const TRACEPARENT = /^00-[0-9a-f]{32}-[0-9a-f]{16}-([0-9a-f]{2})$/;

/** OTEL_SDK_DISABLED as the SDK reads it. */
export const tracingDisabled = (env: NodeJS.ProcessEnv) => env.OTEL_SDK_DISABLED?.trim().toLowerCase() === 'true';

/** The standard OTEL_TRACES_SAMPLER and OTEL_TRACES_SAMPLER_ARG, read once: which reads are traced. */
export function readSampling(env: NodeJS.ProcessEnv) {
  const name = env.OTEL_TRACES_SAMPLER ?? 'parentbased_traceidratio';
  const arg = env.OTEL_TRACES_SAMPLER_ARG === undefined ? Number.NaN : Number(env.OTEL_TRACES_SAMPLER_ARG);
  const ratio = arg >= 0 && arg <= 1 ? arg : DEFAULT_READ_SAMPLE_RATIO;
  const base = name.replace(/^parentbased_/, '');
  const known = ['always_on', 'always_off', 'traceidratio'].includes(base);
  const chance = base === 'always_on' ? 1 : base === 'always_off' ? 0 : ratio;
  return { name, ratio, base, known, chance, followParent: name.startsWith('parentbased_') || !known };
}

/**
 * Whether a request is traced at all, decided before it has a span: a write always; a read with a
 * parent-based sampler as its traceparent says, otherwise (and without one) by the sampler's chance.
 */
export function readRequestTraced(
  env: NodeJS.ProcessEnv,
  random: () => number = Math.random,
): (method: string | undefined, traceparent: string | undefined) => boolean {
  const { chance, followParent } = readSampling(env);
  return (method, traceparent) => {
    if (!READ_METHODS.has((method ?? 'GET').toUpperCase())) return true;
    const parent = traceparent === undefined ? null : TRACEPARENT.exec(traceparent);
    if (parent && followParent) return (Number.parseInt(parent[1]!, 16) & 1) === 1;
    return random() < chance;
  };
}

let active: ReturnType<typeof readRequestTraced> | undefined;

/** The request sampling of the tracing started in this process (startTracing), or undefined when none runs. */
export const tracedRequests = () => active;
export const setTracedRequests = (traced: typeof active) => {
  active = traced;
};
