#!/usr/bin/env node
/**
 * `npm run invoke -- --layer ZIP --function DIR --handler H [--event JSON] ...`: argv → checked
 * settings → invokeLayer(). Results on stdout (one line per invocation, or one JSON document
 * with --json); Lambda's platform lines and the runtime's logs on stderr.
 *
 * Exit status: 0 every invocation succeeded; 1 one failed (error, timeout, crash, init error)
 * or something broke; 2 bad input; 130 interrupted (Ctrl-C / SIGTERM), after cleaning up.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { Command } from 'commander';
import { UserError } from '../errors.js';
import {
  INVOKE_DEFAULTS,
  INVOKE_LIMITS,
  InvokeAbortedError,
  checkEventJson,
  formatBudget,
  invokeLayer,
  resultJson,
  resultLine,
  settingsFromArgs,
  type InvokeArgs,
} from '../invoke/index.js';
import { TOOL_NAME, TOOL_VERSION } from '../paths.js';

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

const program = new Command()
  .name('invoke')
  .description(
    'Run a Lambda layer locally the way Lambda does: the platform\'s runtime image in Docker, the layer at /opt,\n' +
      'the function at /var/task, a local Runtime API; prints each result on stdout and Lambda\'s log lines on stderr.',
  )
  .version(TOOL_VERSION)
  .option('--layer <zip>', 'a layer zip (its manifest <zip>.json names the platform); repeat it for several layers, in the order Lambda extracts them (at most 5)', collect, [])
  .option('--function <dir|zip>', 'the function code, put at /var/task')
  .option('--handler <handler>', 'the handler (_HANDLER), e.g. hello, lib/greeter.greet, handler.php')
  .option('--event <json>', `the event (JSON; default ${INVOKE_DEFAULTS.event})`)
  .option('--event-file <file>', 'read the event from a file (- for stdin)')
  .option('--repeat <n>', 'invoke the event n times; one init serves them until a timeout or crash', String(INVOKE_DEFAULTS.repeat))
  .option('--timeout <seconds>', `function timeout, up to ${INVOKE_LIMITS.maxTimeoutSeconds}`, String(INVOKE_DEFAULTS.timeoutSeconds))
  .option('--memory <mb>', `memory size (the container's limit), ${INVOKE_LIMITS.minMemoryMb} to ${INVOKE_LIMITS.maxMemoryMb}`, String(INVOKE_DEFAULTS.memoryMb))
  .option('--function-name <name>', 'AWS_LAMBDA_FUNCTION_NAME (default: the function directory\'s name)')
  .option('--env <NAME=VALUE>', 'an environment variable of the function (repeatable)', collect, [])
  .option('--region <region>', 'AWS_REGION', INVOKE_DEFAULTS.region)
  .option('--platform <name>', 'run on this platform\'s runtime image instead of the manifest\'s')
  .option('--image <ref>', 'run on this image instead of the platform\'s runtime image')
  .option('--json', 'print one JSON document with every invocation on stdout instead of the result lines')
  .addHelpText(
    'after',
    `
Examples:
  npm run invoke -- --layer dist/php-8.2.32-al2023-portable-x86_64.zip --function examples/hello --handler hello --event '{"name":"World"}'
  npm run invoke -- --layer dist/php-8.2.32-al2023-portable-x86_64.zip --function examples/returns-callable --handler handler.php \\
      --event '{"a":1,"b":2}' --repeat 3 --json
  npm run invoke -- --layer dist/php-8.2.32-al2023-portable-x86_64.zip --layer my-extras.zip --function examples/hello --handler hello

Exit status: 0 every invocation succeeded; 1 an invocation failed (handler error, timeout, crash, init error);
2 bad input; 130 interrupted.`,
  );

interface CliOptions {
  layer: string[];
  function?: string;
  handler?: string;
  event?: string;
  eventFile?: string;
  repeat: string;
  timeout: string;
  memory: string;
  functionName?: string;
  env: string[];
  region: string;
  platform?: string;
  image?: string;
  json?: boolean;
}

async function readEventFile(file: string): Promise<string> {
  try {
    if (file === '-') {
      const chunks: Buffer[] = [];
      for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
      return Buffer.concat(chunks).toString('utf8');
    }
    return await readFile(file, 'utf8');
  } catch (err) {
    throw new UserError(`cannot read --event-file ${file}: ${(err as Error).message}`);
  }
}

function write(stream: NodeJS.WriteStream, text: string): Promise<void> {
  return new Promise((resolve) => (stream.write(text) ? resolve() : stream.once('drain', () => resolve())));
}

program.action(async (o: CliOptions) => {
  const args: InvokeArgs = { ...o };
  const settings = settingsFromArgs(args);
  const eventText =
    'text' in settings.event ? settings.event.text : checkEventJson(await readEventFile(settings.event.file), `--event-file ${settings.event.file}`);

  const controller = new AbortController();
  let interrupted = 0;
  const onSignal = (signal: NodeJS.Signals): void => {
    interrupted += 1;
    if (interrupted > 1) process.exit(130); // a second Ctrl-C: do not wait for the cleanup
    process.stderr.write(`\n${signal}: stopping, removing the sandbox...\n`);
    controller.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  const result = await invokeLayer({
    layer: settings.layers,
    functionPath: settings.functionPath,
    handler: settings.handler,
    events: Array.from({ length: settings.repeat }, () => eventText),
    timeoutSeconds: settings.timeoutSeconds,
    memoryMb: settings.memoryMb,
    functionName: settings.functionName,
    region: settings.region,
    env: settings.env,
    ...(settings.platform !== undefined ? { platform: settings.platform } : {}),
    ...(settings.image !== undefined ? { image: settings.image } : {}),
    signal: controller.signal,
    // The runtime writes a multi-line message as one line with CRs (one CloudWatch event); a
    // terminal would overwrite the line, so show those CRs as line breaks there.
    onLog: (text) => process.stderr.write(process.stderr.isTTY ? text.replace(/\r(?!\n)/g, '\n    ') : text),
    ...(settings.json ? {} : { onInvocation: (outcome) => process.stdout.write(resultLine(outcome)) }),
  });
  // Several layers: what they and the function add to Lambda's 250 MB, as Lambda counts it.
  if (result.layers.length > 1) process.stderr.write(`layers: ${formatBudget(result.sizeBudget, (zip) => path.basename(zip))}\n`);
  if (settings.json) await write(process.stdout, `${JSON.stringify(resultJson(result), null, 2)}\n`);
  process.exitCode = result.exitCode;
});

program.exitOverride();
try {
  await program.parseAsync(process.argv);
} catch (err) {
  const e = err as Error & { code?: string };
  if (e.code?.startsWith('commander.')) {
    // commander already printed the help, the version or the usage error
    process.exit(e.code === 'commander.helpDisplayed' || e.code === 'commander.version' ? 0 : 2);
  }
  if (err instanceof InvokeAbortedError) {
    // Everything was removed; do not wait for what the interrupted run still had pending.
    process.stderr.write(`${TOOL_NAME} invoke: ${e.message}\n`);
    process.exit(130);
  } else if (err instanceof UserError) {
    process.stderr.write(`${TOOL_NAME} invoke: ${e.message}\n`);
    process.exitCode = 2;
  } else {
    process.stderr.write(`${TOOL_NAME} invoke: ${e.stack ?? e.message}\n`);
    process.exitCode = 1;
  }
}
