import { hostname } from 'node:os';
import { type RedisTopology, SYNC_MODES } from '@local-cache-sync/core';
import type { RedisNode } from '@local-cache-sync/core/transport';
import { parseSigningKeys, type SigningKey } from '@local-cache-sync/core/wire';
import { z } from 'zod';

const optionalUrl = (protocols: string[]) =>
  z
    .string()
    .trim()
    .refine(
      (value) => {
        try {
          return protocols.includes(new URL(value).protocol);
        } catch {
          return false;
        }
      },
      `must be a URL starting with ${protocols.map((p) => `${p}//`).join(' or ')}`,
    );

/** Parses `host:port,host:port` (IPv6 in brackets); throws with what is wrong. */
function parseNodes(value: string): RedisNode[] {
  const nodes = value
    .split(',')
    .map((part) => part.trim())
    .filter((part) => part !== '')
    .map((part) => {
      const match = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]{1,253}):(\d{1,5})$/.exec(part);
      const port = Number(match?.[2]);
      if (!match || port < 1 || port > 65535) throw new Error(`"${part}" is not host:port`);
      return { host: match[1]!.replace(/^\[|\]$/g, ''), port };
    });
  if (nodes.length === 0) throw new Error('no host:port given');
  if (nodes.length > 32) throw new Error('at most 32 nodes');
  return nodes;
}

/** A variable parsed by `parse`, whose error (prefixed with `expected`) is the problem reported. */
const parsedBy = <T>(parse: (value: string) => T, expected = '') =>
  z
    .string()
    .transform((value, ctx): T => {
      try {
        return parse(value);
      } catch (error) {
        ctx.addIssue({ code: 'custom', message: `${expected}${(error as Error).message}` });
        return z.NEVER;
      }
    })
    .optional();

/** Signing keys: `id:secret,...`; a problem is reported without the secret. */
const signingKeys = parsedBy<SigningKey[]>(parseSigningKeys);

const nodeList = parsedBy<RedisNode[]>(parseNodes, 'must be host:port,host:port...: ');

const bindAddress = (fallback: string) =>
  z
    .string()
    .regex(/^[A-Za-z0-9.:-]{1,253}$/, 'must be an IP address or a host name')
    .default(fallback);

const integer = (min: number, max: number) => z.coerce.number().int().min(min).max(max);
const ratio = z.coerce.number().min(0).max(1);

const configSchema = z.object({
  PORT: integer(0, 65535).default(3000),
  HTTP_HOST: bindAddress('0.0.0.0'),
  HTTP_HEADERS_TIMEOUT_MS: integer(1000, 600_000).default(10_000),
  HTTP_REQUEST_TIMEOUT_MS: integer(1000, 600_000).default(30_000),
  REPLICA_ID: z
    .string()
    .regex(/^[A-Za-z0-9_.-]{1,64}$/, 'must be 1-64 letters, digits, dot, dash or underscore')
    .default(
      hostname()
        .replace(/[^A-Za-z0-9_.-]/g, '-')
        .slice(0, 64),
    ),
  MONGODB_URI: optionalUrl(['mongodb:', 'mongodb+srv:']).default('mongodb://127.0.0.1:27017/books'),
  MONGODB_TIMEOUT_MS: integer(100, 120_000).default(3000),
  REDIS_URL: optionalUrl(['redis:', 'rediss:']).optional(),
  REDIS_TLS_CA_FILE: z.string().min(1).optional(),
  REDIS_SENTINELS: nodeList,
  REDIS_SENTINEL_NAME: z
    .string()
    .regex(/^[A-Za-z0-9_.-]{1,64}$/, 'must be 1-64 letters, digits, dot, dash or underscore')
    .optional(),
  REDIS_SENTINEL_PASSWORD: z.string().min(1).optional(),
  REDIS_CLUSTER_NODES: nodeList,
  REDIS_USERNAME: z.string().min(1).optional(),
  REDIS_PASSWORD: z.string().min(1).optional(),
  CACHE_TTL_SECONDS: integer(1, 86400).default(300),
  CACHE_MAX_KEYS: integer(1, 10_000_000).default(100_000),
  CACHE_GRACE_SECONDS: integer(0, 30 * 86400).default(0),
  CACHE_SOFT_TIMEOUT_MS: integer(0, 600_000).default(0),
  CACHE_HARD_TIMEOUT_MS: integer(0, 600_000).default(0),
  INVALIDATION_CHANNEL: z
    .string()
    .regex(/^[A-Za-z0-9_.:-]{1,128}$/, 'must be 1-128 letters, digits or . _ : -')
    .default('book-channel'),
  HEARTBEAT_INTERVAL_MS: integer(100, 60_000).default(1000),
  SYNC_MODE: z.enum(SYNC_MODES).default('pubsub'),
  SYNC_SILENCE_MS: integer(100, 600_000).default(3000),
  SYNC_JITTER_MS: integer(0, 60_000).optional(),
  FENCE_MS: integer(0, 3_600_000).default(10_000),
  STREAM_MAXLEN: integer(100, 100_000_000).default(100_000),
  OUTBOX_AGE_MS: integer(100, 600_000).default(1500),
  PUBLISH_RETRY_MS: integer(0, 60_000).default(5000),
  STALE_CHECK_SAMPLE_RATE: ratio.default(0),
  STALE_CHECK_GRACE_MS: integer(0, 60_000).default(25),
  STALE_CHECK_ACK_WAIT_MS: integer(0, 600_000).default(5000),
  CHAOS_ENABLED: z
    .enum(['0', '1'])
    .default('0')
    .transform((v) => v === '1'),
  CHAOS_PORT: integer(0, 65535).default(9000),
  CHAOS_HOST: bindAddress('127.0.0.1'),
  CHAOS_TOKEN: z.string().min(16, 'must be at least 16 characters').optional(),
  /** Coalesce the invalidations of one event-loop turn into one message (see envelope.ts). */
  SYNC_COALESCE: z
    .enum(['0', '1'])
    .default('1')
    .transform((v) => v === '1'),
  CACHE_COALESCE_LOADS: z
    .enum(['0', '1'])
    .default('1')
    .transform((v) => v === '1'),
  /** Bench-only read paths under /bench (make bench); off in production. */
  BENCH_ROUTES: z
    .enum(['0', '1'])
    .default('0')
    .transform((v) => v === '1'),
  MAX_BODY_BYTES: integer(64, 10 * 1024 * 1024).default(16 * 1024),
  SHUTDOWN_TIMEOUT_MS: integer(100, 120_000).default(10_000),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  OTEL_EXPORTER_OTLP_ENDPOINT: optionalUrl(['http:', 'https:']).optional(),
  SYNC_SIGNING_KEYS: signingKeys,
});

const checkedSchema = configSchema.superRefine((config, ctx) => {
  const problem = (name: keyof Config, message: string) => ctx.addIssue({ code: 'custom', path: [name], message });
  if (config.CHAOS_ENABLED && !config.CHAOS_TOKEN) problem('CHAOS_TOKEN', 'is required when CHAOS_ENABLED=1');
  const grace = config.CACHE_GRACE_SECONDS;
  if (grace > 0 && grace < config.CACHE_TTL_SECONDS) {
    problem('CACHE_GRACE_SECONDS', `must be 0 (off) or at least CACHE_TTL_SECONDS (${config.CACHE_TTL_SECONDS})`);
  }
  if (config.CACHE_SOFT_TIMEOUT_MS > 0 && grace === 0) {
    problem('CACHE_SOFT_TIMEOUT_MS', 'needs CACHE_GRACE_SECONDS: without fail-safe there is no old value to answer');
  }
  const hard = config.CACHE_HARD_TIMEOUT_MS;
  if (config.CACHE_SOFT_TIMEOUT_MS > 0 && hard > 0 && config.CACHE_SOFT_TIMEOUT_MS >= hard) {
    problem('CACHE_SOFT_TIMEOUT_MS', 'must be shorter than CACHE_HARD_TIMEOUT_MS');
  }
  // One topology, named by exactly one variable; its options only with it.
  const named = (['REDIS_URL', 'REDIS_SENTINELS', 'REDIS_CLUSTER_NODES'] as const).filter(
    (n) => config[n] !== undefined,
  );
  if (named.length > 1) {
    problem(
      named[1]!,
      `cannot be combined with ${named[0]}: give one of REDIS_URL (standalone), REDIS_SENTINELS or REDIS_CLUSTER_NODES`,
    );
  }
  const standalone = !config.REDIS_SENTINELS && !config.REDIS_CLUSTER_NODES;
  if (config.REDIS_SENTINELS && !config.REDIS_SENTINEL_NAME) {
    problem('REDIS_SENTINEL_NAME', 'is required with REDIS_SENTINELS: the master name the Sentinels monitor');
  }
  for (const name of ['REDIS_SENTINEL_NAME', 'REDIS_SENTINEL_PASSWORD'] as const) {
    if (config[name] !== undefined && !config.REDIS_SENTINELS) problem(name, 'is only used with REDIS_SENTINELS');
  }
  for (const name of ['REDIS_USERNAME', 'REDIS_PASSWORD'] as const) {
    if (config[name] !== undefined && standalone) {
      problem(name, 'is for REDIS_SENTINELS or REDIS_CLUSTER_NODES; standalone takes its credentials in REDIS_URL');
    }
  }
  if (config.REDIS_TLS_CA_FILE && !standalone) {
    problem(
      'REDIS_TLS_CA_FILE',
      'TLS is supported with a standalone REDIS_URL (rediss://) only, not yet with Sentinel or Cluster',
    );
  }
  if (config.REDIS_TLS_CA_FILE && config.REDIS_URL && !config.REDIS_URL.startsWith('rediss:')) {
    problem('REDIS_TLS_CA_FILE', 'is only used with a rediss:// REDIS_URL');
  }
});

export const DEFAULT_REDIS_URL = 'redis://127.0.0.1:6379';

/** The Redis topology the variables name (standalone on DEFAULT_REDIS_URL when none is). */
export function redisTopology(
  config: Pick<
    Config,
    | 'REDIS_URL'
    | 'REDIS_TLS_CA_FILE'
    | 'REDIS_SENTINELS'
    | 'REDIS_SENTINEL_NAME'
    | 'REDIS_SENTINEL_PASSWORD'
    | 'REDIS_CLUSTER_NODES'
    | 'REDIS_USERNAME'
    | 'REDIS_PASSWORD'
  >,
  readFile: (path: string) => Buffer,
): RedisTopology {
  const credentials = { username: config.REDIS_USERNAME, password: config.REDIS_PASSWORD };
  if (config.REDIS_SENTINELS) {
    return {
      kind: 'sentinel',
      sentinels: config.REDIS_SENTINELS,
      name: config.REDIS_SENTINEL_NAME ?? '',
      sentinelPassword: config.REDIS_SENTINEL_PASSWORD,
      ...credentials,
    };
  }
  if (config.REDIS_CLUSTER_NODES) return { kind: 'cluster', nodes: config.REDIS_CLUSTER_NODES, ...credentials };
  return {
    kind: 'standalone',
    url: config.REDIS_URL ?? DEFAULT_REDIS_URL,
    tlsCa: config.REDIS_TLS_CA_FILE ? readFile(config.REDIS_TLS_CA_FILE) : undefined,
  };
}

export type Config = z.infer<typeof configSchema>;

/** One line per variable: `node dist/main.js --help` prints them, and docs/configuration.md's table is checked against them. */
export const CONFIG_HELP: Record<keyof Config, string> = {
  PORT: 'HTTP port',
  HTTP_HOST: 'the address the HTTP port binds to',
  HTTP_HEADERS_TIMEOUT_MS: 'a client that has not sent its request headers by then gets 408 and is disconnected',
  HTTP_REQUEST_TIMEOUT_MS: 'a request not received whole by then gets 408 and is disconnected',
  REPLICA_ID:
    'replica id (default: the host name): `X-Replica`, envelope `origin`, connection names, `service.instance.id`',
  MONGODB_URI: 'the source of truth',
  MONGODB_TIMEOUT_MS:
    'every MongoDB operation fails after this long without an answer: reads and readyz answer 503, a write of unknown outcome is announced and answers 503',
  REDIS_URL:
    'standalone Redis (the default topology; unset: `redis://127.0.0.1:6379`): bus, member registry and (stream mode) log; `rediss://` for TLS, `redis://user:password@host` for an ACL user',
  REDIS_TLS_CA_FILE: 'with `rediss://`: a PEM file of the CA that signed the Redis certificate (else the system CAs)',
  REDIS_SENTINELS:
    'Sentinel topology: `host:port,...` of the Sentinels; the replica follows the master they name through failovers',
  REDIS_SENTINEL_NAME: 'required with REDIS_SENTINELS: the monitored master name',
  REDIS_SENTINEL_PASSWORD: "with REDIS_SENTINELS: the Sentinels' own password, if they require one",
  REDIS_CLUSTER_NODES:
    "Cluster topology: `host:port,...` of some cluster nodes; sharded Pub/Sub (SPUBLISH/SSUBSCRIBE) on the channel's slot",
  REDIS_USERNAME: 'with REDIS_SENTINELS or REDIS_CLUSTER_NODES: the ACL user on the data nodes',
  REDIS_PASSWORD: 'with REDIS_SENTINELS or REDIS_CLUSTER_NODES: the password on the data nodes',
  CACHE_TTL_SECONDS: 'local entry TTL: how long a lost invalidation can leave an entry stale in `pubsub` mode',
  CACHE_MAX_KEYS: 'local entries at most; the oldest-written is evicted first',
  CACHE_GRACE_SECONDS:
    'fail-safe: `0` off; else an expired book is kept this long from its load (at least `CACHE_TTL_SECONDS`) and answered, marked stale (`X-Cache: STALE`, `Age`), when MongoDB fails or times out',
  CACHE_SOFT_TIMEOUT_MS:
    'with `CACHE_GRACE_SECONDS`: a read waits this long for MongoDB, then answers the kept book and lets the read finish in the background (`0` off)',
  CACHE_HARD_TIMEOUT_MS:
    "a read's MongoDB load is abandoned after this long: the kept book answers (fail-safe), or 504 (`0` off)",
  INVALIDATION_CHANNEL:
    'Pub/Sub channel; the stream log is `{<channel>}:log`, the registry `{<channel>}:members` (one Cluster slot)',
  HEARTBEAT_INTERVAL_MS: 'heartbeat period; members expire after 15 of them',
  SYNC_MODE: '`pubsub` (classic), `pubsub-flush` or `stream`: see docs/sync-modes.md',
  SYNC_SILENCE_MS: 'peers silent this long (while some are live) make the cache untrusted (safer modes)',
  SYNC_JITTER_MS: 'recovery starts after a random delay up to this (pubsub-flush: 200; stream: 0)',
  FENCE_MS: 'how long an invalidation fences older fills (safer modes)',
  STREAM_MAXLEN: 'approximate cap of the stream log (`stream` mode)',
  OUTBOX_AGE_MS: 'an outbox mark older than this is republished by a sweeper (safer modes)',
  PUBLISH_RETRY_MS:
    'safer modes: while Redis has been failing for less than this (a failover), a write retries its rejected invalidation until Redis takes it; past it (an outage) writes stop waiting and the outbox catches up; `pubsub` tries once',
  STALE_CHECK_SAMPLE_RATE: 'fraction of cache hits checked against MongoDB, off the request path',
  STALE_CHECK_GRACE_MS:
    'a hit counts as stale only if the newer version was written more than this before it was served (clock skew between hosts; one machine: 0)',
  STALE_CHECK_ACK_WAIT_MS:
    'a hit counts as stale once the newer write was acknowledged to its client; a write never acknowledged (its writer died, its client gave up) counts this long after its commit. Hits in between are `cache_stale_reads_unacknowledged_total`',
  CHAOS_ENABLED: '`1` wraps the transport in the fault injector and opens the chaos admin port; never in production',
  CHAOS_PORT: 'the chaos admin port',
  CHAOS_HOST: 'the address the chaos admin port binds to (loopback unless set)',
  CHAOS_TOKEN: 'required with CHAOS_ENABLED=1: every admin request carries `Authorization: Bearer <token>`',
  SYNC_COALESCE: '`1`: the invalidations of one event-loop turn share a message; `0`: one message a write',
  CACHE_COALESCE_LOADS:
    "`1`: concurrent misses of one key share one MongoDB read; `0`: every miss reads (the bench's baseline)",
  BENCH_ROUTES: '`1` adds the bench-only read paths under `/bench` (`make bench`); never in production',
  MAX_BODY_BYTES: 'larger request bodies get 413',
  SHUTDOWN_TIMEOUT_MS: 'on SIGTERM, force-quit after this long',
  LOG_LEVEL: 'pino level (`debug` logs every write with its trace id)',
  OTEL_EXPORTER_OTLP_ENDPOINT:
    'OTLP/HTTP endpoint; spans are always recorded (trace ids in envelopes, logs, exemplars) but exported only when set',
  SYNC_SIGNING_KEYS:
    '`id:secret,...` (secrets of 16 bytes or more): the first key signs every message, all verify; unset: unsigned, with a warning',
};

/** Variables whose values are never printed: secrets whole, URLs without their password. */
const SECRET = new Set<string>(['SYNC_SIGNING_KEYS', 'CHAOS_TOKEN', 'REDIS_PASSWORD', 'REDIS_SENTINEL_PASSWORD']);
const WITH_PASSWORD = new Set<string>(['MONGODB_URI', 'REDIS_URL', 'OTEL_EXPORTER_OTLP_ENDPOINT']);

/** A value as it may appear in an error or a log: secrets redacted, URL passwords masked. */
export function printable(name: string, value: string): string {
  if (SECRET.has(name)) return '(redacted)';
  if (!WITH_PASSWORD.has(name)) return JSON.stringify(value);
  // Masks a password wherever it sits, parseable or not: scheme://user:PASSWORD@host
  return JSON.stringify(value.replace(/^([a-z][a-z0-9+.-]*:\/\/[^:/@]*:)[^@]*@/i, '$1***@'));
}

/** The defaults, as the variables would be written (unset when there is none). */
export function configDefaults(): Record<keyof Config, string> {
  const defaults = loadConfig({});
  return Object.fromEntries(
    Object.keys(CONFIG_HELP).map((name) => {
      const value = (defaults as Record<string, unknown>)[name];
      const written = typeof value === 'boolean' ? (value ? '1' : '0') : value === undefined ? '' : String(value);
      const shown: Record<string, string> = { REPLICA_ID: 'host name', REDIS_URL: DEFAULT_REDIS_URL };
      return [name, shown[name] ?? written];
    }),
  ) as Record<keyof Config, string>;
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

/** Reads the whole configuration at once so that every bad variable is reported together. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const input: Record<string, string> = {};
  for (const key of Object.keys(configSchema.shape)) {
    const value = env[key];
    if (value !== undefined && value !== '') input[key] = value;
  }
  const parsed = checkedSchema.safeParse(input);
  if (parsed.success) return parsed.data;
  throw new ConfigError(
    parsed.error.issues.map((issue) => {
      const name = String(issue.path[0] ?? '(config)');
      return `${name}=${printable(name, input[name] ?? '')}: ${issue.message}`;
    }),
  );
}

/** What one replica is built from: the configuration without what main.ts owns (ports, host, shutdown, OTLP, chaos port). */
export type ReplicaConfig = Omit<
  Config,
  | 'PORT'
  | 'HTTP_HOST'
  | 'HTTP_HEADERS_TIMEOUT_MS'
  | 'HTTP_REQUEST_TIMEOUT_MS'
  | 'SHUTDOWN_TIMEOUT_MS'
  | 'OTEL_EXPORTER_OTLP_ENDPOINT'
  | 'CHAOS_PORT'
  | 'CHAOS_HOST'
  | 'CHAOS_TOKEN'
>;
