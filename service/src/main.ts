import { createServer } from 'node:http';
import { createAdminServer } from './chaos/admin-server';
import { answerHelp } from './cli';
import { trackInFlight } from './http/server';
import { createLogger } from './telemetry/logger';
import { stopTracing } from './telemetry/tracing';
import { CONFIG_HELP, ConfigError, configDefaults, loadConfig } from './wiring/config';
import { createReplica } from './wiring/replica';

function usage(): string {
  const defaults = configDefaults();
  const rows = Object.entries(CONFIG_HELP).map(
    ([name, help]) =>
      `  ${name.padEnd(28)} ${(defaults[name as keyof typeof defaults] || '(unset)').padEnd(32)} ${help}`,
  );
  return `usage: node --require ./dist/telemetry/register.js ./dist/main.js   (npm start, make start)
One replica of the Book service, configured by environment variables (docs/configuration.md):
  ${'variable'.padEnd(28)} ${'default'.padEnd(32)} meaning
${rows.join('\n')}
Bad values are all reported at once, and the replica exits with status 2.`;
}

async function main(): Promise<void> {
  answerHelp(usage());
  let config: ReturnType<typeof loadConfig>;
  try {
    config = loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n`);
      process.exit(2);
    }
    throw error;
  }
  const logger = createLogger(config.REPLICA_ID, config.LOG_LEVEL);
  const replica = await createReplica(config, logger);
  // Slow or stalled clients (a header trickle) are cut at these deadlines, checked every second.
  const server = createServer(
    {
      headersTimeout: config.HTTP_HEADERS_TIMEOUT_MS,
      requestTimeout: config.HTTP_REQUEST_TIMEOUT_MS,
      connectionsCheckingInterval: 1000,
    },
    replica.app.callback(),
  );
  const requests = trackInFlight(server);
  await new Promise<void>((resolve) => server.listen(config.PORT, config.HTTP_HOST, resolve));
  const address = server.address();
  logger.info({ port: typeof address === 'object' && address ? address.port : config.PORT }, 'replica listening');
  // Fault injection listens on its own port, and only when asked for: never on the service port.
  const admin = replica.chaos && config.CHAOS_TOKEN ? createAdminServer(replica.chaos, config.CHAOS_TOKEN) : undefined;
  if (admin) {
    await new Promise<void>((resolve) => admin.listen(config.CHAOS_PORT, config.CHAOS_HOST, resolve));
    const adminAddress = admin.address();
    logger.warn(
      { port: typeof adminAddress === 'object' && adminAddress ? adminAddress.port : config.CHAOS_PORT },
      'chaos admin port open',
    );
  }

  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal, inFlight: requests.inFlight }, 'shutting down');
    setTimeout(() => {
      logger.error({ timeoutMs: config.SHUTDOWN_TIMEOUT_MS }, 'shutdown timed out; forcing exit');
      process.exit(1);
    }, config.SHUTDOWN_TIMEOUT_MS).unref();
    admin?.close();
    await requests.drain();
    await replica.close();
    // A trace collector that is gone must not turn a clean shutdown into a failure.
    await stopTracing().catch((error) => logger.warn({ err: error }, 'spans could not be flushed at shutdown'));
    logger.info('shutdown complete');
    process.exit(0);
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
}

main().catch((error) => {
  process.stderr.write(`replica failed to start: ${(error as Error).stack ?? error}\n`);
  process.exit(1);
});
