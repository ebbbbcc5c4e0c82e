import { ConfigError, loadConfig } from '../../src/wiring/config';

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
});
