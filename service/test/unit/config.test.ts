import { ConfigError, loadConfig, redisTopology } from '../../src/wiring/config';

describe('loadConfig', () => {
  it('applies defaults', () => {
    const config = loadConfig({ REPLICA_ID: 'book-1' });
    expect(config).toMatchObject({
      PORT: 3000,
      REPLICA_ID: 'book-1',
      INVALIDATION_CHANNEL: 'book-channel',
      CACHE_TTL_SECONDS: 300,
      CACHE_MAX_KEYS: 100_000,
    });
    expect(config.OTEL_EXPORTER_OTLP_ENDPOINT).toBeUndefined();
  });

  it('parses numbers and URLs', () => {
    const config = loadConfig({
      PORT: '8080',
      MONGODB_URI: 'mongodb://db:27017/books',
      REDIS_URL: 'redis://cache:6379',
      CACHE_TTL_SECONDS: '60',
      OTEL_EXPORTER_OTLP_ENDPOINT: 'http://jaeger:4318',
    });
    expect(config.PORT).toBe(8080);
    expect(config.CACHE_TTL_SECONDS).toBe(60);
    expect(config.OTEL_EXPORTER_OTLP_ENDPOINT).toBe('http://jaeger:4318');
  });

  it('lists every bad variable in one error', () => {
    let caught: unknown;
    try {
      loadConfig({
        PORT: 'eighty',
        REPLICA_ID: 'has spaces',
        MONGODB_URI: 'postgres://x',
        REDIS_URL: 'nope',
        CACHE_TTL_SECONDS: '0',
        CACHE_MAX_KEYS: '-5',
        INVALIDATION_CHANNEL: 'bad channel!',
        OTEL_EXPORTER_OTLP_ENDPOINT: 'ftp://x',
      });
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(ConfigError);
    const names = (caught as ConfigError).problems.map((problem) => problem.split('=')[0]);
    expect(names.sort()).toEqual(
      [
        'CACHE_MAX_KEYS',
        'CACHE_TTL_SECONDS',
        'INVALIDATION_CHANNEL',
        'MONGODB_URI',
        'OTEL_EXPORTER_OTLP_ENDPOINT',
        'PORT',
        'REDIS_URL',
        'REPLICA_ID',
      ].sort(),
    );
    expect((caught as Error).message).toContain('PORT="eighty"');
  });

  describe('Redis topology', () => {
    const problems = (env: Record<string, string>) => {
      try {
        loadConfig(env);
        return [];
      } catch (error) {
        return (error as ConfigError).problems;
      }
    };
    const topology = (env: Record<string, string>) => redisTopology(loadConfig(env), () => Buffer.from('ca'));

    it('is standalone on the default URL, Sentinel or Cluster when named', () => {
      expect(topology({})).toEqual({ kind: 'standalone', url: 'redis://127.0.0.1:6379', tlsCa: undefined });
      expect(
        topology({
          REDIS_SENTINELS: 's1:26379, s2:26379,[::1]:26380',
          REDIS_SENTINEL_NAME: 'mymaster',
          REDIS_USERNAME: 'book-replica',
          REDIS_PASSWORD: 'pw',
        }),
      ).toEqual({
        kind: 'sentinel',
        sentinels: [
          { host: 's1', port: 26379 },
          { host: 's2', port: 26379 },
          { host: '::1', port: 26380 },
        ],
        name: 'mymaster',
        sentinelPassword: undefined,
        username: 'book-replica',
        password: 'pw',
      });
      expect(topology({ REDIS_CLUSTER_NODES: 'n1:7000,n2:7001' })).toMatchObject({
        kind: 'cluster',
        nodes: [
          { host: 'n1', port: 7000 },
          { host: 'n2', port: 7001 },
        ],
      });
    });

    it.each([
      [{ REDIS_URL: 'redis://a:6379', REDIS_SENTINELS: 's:26379', REDIS_SENTINEL_NAME: 'm' }, 'REDIS_SENTINELS'],
      [{ REDIS_SENTINELS: 's:26379', REDIS_CLUSTER_NODES: 'n:7000', REDIS_SENTINEL_NAME: 'm' }, 'REDIS_CLUSTER_NODES'],
      [{ REDIS_SENTINELS: 's:26379' }, 'REDIS_SENTINEL_NAME'],
      [{ REDIS_SENTINEL_NAME: 'm' }, 'REDIS_SENTINEL_NAME'],
      [{ REDIS_PASSWORD: 'secret-value' }, 'REDIS_PASSWORD'],
      [{ REDIS_CLUSTER_NODES: 'n:7000', REDIS_TLS_CA_FILE: '/ca.pem' }, 'REDIS_TLS_CA_FILE'],
      [{ REDIS_CLUSTER_NODES: 'n:7000,nohost' }, 'REDIS_CLUSTER_NODES'],
      [{ REDIS_SENTINELS: 's:99999', REDIS_SENTINEL_NAME: 'm' }, 'REDIS_SENTINELS'],
      // Fail-safe: a grace shorter than the TTL, a soft timeout with nothing to answer, or one
      // not shorter than the hard timeout would each quietly not do what was asked.
      [{ CACHE_GRACE_SECONDS: '60' }, 'CACHE_GRACE_SECONDS'],
      [{ CACHE_SOFT_TIMEOUT_MS: '100' }, 'CACHE_SOFT_TIMEOUT_MS'],
      [
        { CACHE_GRACE_SECONDS: '600', CACHE_SOFT_TIMEOUT_MS: '500', CACHE_HARD_TIMEOUT_MS: '500' },
        'CACHE_SOFT_TIMEOUT_MS',
      ],
      [{ CACHE_HARD_TIMEOUT_MS: '-1' }, 'CACHE_HARD_TIMEOUT_MS'],
    ])('refuses %j with one clear error on %s', (env, name) => {
      const found = problems(env);
      expect(found.map((p) => p.split('=')[0])).toEqual([name]);
      expect(found.join('\n')).not.toContain('secret-value');
    });
  });
});
