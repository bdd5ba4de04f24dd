/**
 * What the bench scripts share as command-line programs: the options of both invocation benches,
 * and running `main` only when the file is the one Node was started with.
 */
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs, type ParseArgsConfig } from 'node:util';

/** A bench CLI's numeric option: absent, or a whole number >= 1. */
export function number(value: string | undefined, name: string): number | undefined {
  if (value === undefined) return undefined;
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < 1) throw new Error(`--${name} must be a positive integer`);
  return parsed;
}

/**
 * Parses `--invocations`, `--warmups`, `--cold-starts`, `--json` plus the bench's own string
 * options; the counts come back checked, as numbers.
 */
export function parseInvokeBenchArgs<const Extra extends string>(extra: readonly Extra[]) {
  const options: NonNullable<ParseArgsConfig['options']> = {
    invocations: { type: 'string' },
    warmups: { type: 'string' },
    'cold-starts': { type: 'string' },
    json: { type: 'boolean' },
  };
  for (const name of extra) options[name] = { type: 'string' };
  const { values } = parseArgs({ options });
  const strings = values as Record<string, string | undefined>;
  return {
    extra: Object.fromEntries(extra.filter((name) => strings[name] !== undefined).map((name) => [name, strings[name]!])) as Partial<Record<Extra, string>>,
    counts: {
      invocations: number(strings['invocations'], 'invocations'),
      warmups: number(strings['warmups'], 'warmups'),
      coldStarts: number(strings['cold-starts'], 'cold-starts'),
    },
    json: values['json'] === true,
  };
}

/** Runs `main` when `moduleUrl` (the caller's `import.meta.url`) is the script Node started; exit 1 on error. */
export function runIfMain(moduleUrl: string, main: () => Promise<void>): void {
  if (process.argv[1] === undefined || moduleUrl !== pathToFileURL(path.resolve(process.argv[1])).href) return;
  main().catch((error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  });
}
