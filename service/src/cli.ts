import { parseArgs } from 'node:util';
import type { z } from 'zod';

/** Prints `usage` and exits 0 when asked for help (`--help` or `-h`), before anything else runs. */
export function answerHelp(usage: string, argv: string[] = process.argv.slice(2)): void {
  if (!argv.includes('--help') && !argv.includes('-h')) return;
  process.stdout.write(`${usage.trimEnd()}\n`);
  process.exit(0);
}

/**
 * Parses `--name value` options against a schema whose keys are the option names; answers --help;
 * on any bad or unknown option prints every problem and the usage, and exits 2.
 */
export function parseOptions<S extends z.ZodObject>(
  command: string,
  schema: S,
  usage: string,
  argv: string[] = process.argv.slice(2),
): z.infer<S> {
  answerHelp(usage, argv);
  const fail = (problems: string[]): never => {
    process.stderr.write(`${command}: invalid options\n${problems.map((p) => `  - ${p}`).join('\n')}\n${usage}\n`);
    process.exit(2);
  };
  let values: Record<string, unknown> = {};
  try {
    ({ values } = parseArgs({
      args: argv,
      options: Object.fromEntries(Object.keys(schema.shape).map((name) => [name, { type: 'string' as const }])),
      strict: true,
    }));
  } catch (error) {
    fail([(error as Error).message]);
  }
  const parsed = schema.safeParse(values);
  if (!parsed.success) fail(parsed.error.issues.map((i) => `--${String(i.path[0])}: ${i.message}`));
  return parsed.data as z.infer<S>;
}
