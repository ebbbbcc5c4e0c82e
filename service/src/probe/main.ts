import { writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { z } from 'zod';
import { parseOptions } from '../cli';
import { startProbe } from './probe';
import { renderTable } from './summary';

const USAGE = `usage: npm run probe -- --targets http://127.0.0.1:3001,http://127.0.0.1:3002 [options]
  --rate N            operations per second (default 50)
  --duration S        seconds to run, 0 = until Ctrl-C (default 0)
  --read-ratio R      fraction of reads, 0..1 (default 0.9)
  --keys N            books the probe owns (default 100)
  --popularity P      uniform | zipf (default zipf)
  --seed N            seed for keys and choices (default 1)
  --metrics-port N    serve probe metrics on /metrics (default 9464, 0 = off)
  --summary FILE      write the JSON summary there at the end
  --help              this text`;

const optionsSchema = z.object({
  targets: z
    .string()
    .transform((s) =>
      s
        .split(',')
        .map((t) => t.trim().replace(/\/$/, ''))
        .filter(Boolean),
    )
    .pipe(z.array(z.url()).min(1)),
  rate: z.coerce.number().positive().max(100_000).default(50),
  duration: z.coerce.number().min(0).default(0),
  'read-ratio': z.coerce.number().min(0).max(1).default(0.9),
  keys: z.coerce.number().int().min(1).max(100_000).default(100),
  popularity: z.enum(['uniform', 'zipf']).default('zipf'),
  seed: z.coerce.number().int().min(0).default(1),
  'metrics-port': z.coerce.number().int().min(0).max(65535).default(9464),
  summary: z.string().optional(),
});

async function main() {
  const options = parseOptions('probe', optionsSchema, USAGE);
  const probe = await startProbe({
    targets: options.targets,
    rate: options.rate,
    duration: options.duration,
    readRatio: options['read-ratio'],
    keys: options.keys,
    popularity: options.popularity,
    seed: options.seed,
  });
  const server = createServer(async (req, res) => {
    if (req.url !== '/metrics') {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': probe.metrics.registry.contentType });
    res.end(await probe.metrics.registry.metrics());
  });
  if (options['metrics-port'] > 0) server.listen(options['metrics-port']);
  process.stdout.write(`probe: ${options.rate} ops/s against ${[...probe.replicas.values()].join(', ')}\n`);
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => probe.stop());

  const summary = await probe.done;
  server.close();
  if (options.summary) writeFileSync(options.summary, `${JSON.stringify(summary, null, 2)}\n`);
  process.stdout.write(`${renderTable(summary)}\n`);
}

main().catch((error) => {
  process.stderr.write(`probe failed: ${(error as Error).message}\n`);
  process.exit(1);
});
