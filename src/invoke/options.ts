/**
 * Argument values of `invoke` → checked, typed values (pure; no I/O).
 *
 * Every check throws a {@link UserError} whose message names the option and what is accepted,
 * so that the CLI can print it and exit 2.
 */
import path from 'node:path';
import { UserError } from '../errors.js';

export const INVOKE_DEFAULTS = {
  timeoutSeconds: 3,
  memoryMb: 128,
  repeat: 1,
  region: 'us-east-1',
  event: '{}',
} as const;

/** Lambda's configuration limits that `invoke` enforces the same way. */
export const INVOKE_LIMITS = {
  minMemoryMb: 128,
  maxMemoryMb: 10_240,
  maxTimeoutSeconds: 900,
  /** All user-set environment variables together (keys and values, UTF-8). */
  maxEnvBytes: 4096,
} as const;

/** Reads a whole decimal number `>= 1`. */
export function parsePositiveInt(text: string, option: string): number {
  const value = Number(text.trim());
  if (text.trim() === '' || !Number.isInteger(value) || value < 1) {
    throw new UserError(`${option} must be a whole number >= 1, got '${text}'`);
  }
  return value;
}

/**
 * Function timeout in seconds: Lambda accepts whole seconds 1..900; fractions (e.g. 0.5) are
 * accepted too, for quick local tests.
 */
export function parseTimeoutSeconds(text: string): number {
  const value = Number(text.trim());
  if (text.trim() === '' || !Number.isFinite(value) || value <= 0 || value > INVOKE_LIMITS.maxTimeoutSeconds) {
    throw new UserError(`--timeout must be a number of seconds above 0 and at most ${INVOKE_LIMITS.maxTimeoutSeconds}, got '${text}'`);
  }
  return value;
}

/** Memory size in MB: a whole number from 128 to 10240, like Lambda's MemorySize. */
export function parseMemoryMb(text: string): number {
  const value = Number(text.trim());
  if (text.trim() === '' || !Number.isInteger(value) || value < INVOKE_LIMITS.minMemoryMb || value > INVOKE_LIMITS.maxMemoryMb) {
    throw new UserError(
      `--memory must be a whole number of MB from ${INVOKE_LIMITS.minMemoryMb} to ${INVOKE_LIMITS.maxMemoryMb}, got '${text}'`,
    );
  }
  return value;
}

/** Lambda's pattern for environment variable names. */
const ENV_NAME = /^[a-zA-Z][a-zA-Z0-9_]*$/;

/**
 * Variables Lambda sets itself and refuses in a function's configuration. The credential
 * variables are left out on purpose: Lambda takes them from the execution role, locally
 * `--env` is the only way to give a function credentials.
 */
export const RESERVED_ENV_NAMES: readonly string[] = [
  '_HANDLER',
  '_X_AMZN_TRACE_ID',
  'AWS_DEFAULT_REGION',
  'AWS_REGION',
  'AWS_EXECUTION_ENV',
  'AWS_LAMBDA_FUNCTION_NAME',
  'AWS_LAMBDA_FUNCTION_MEMORY_SIZE',
  'AWS_LAMBDA_FUNCTION_VERSION',
  'AWS_LAMBDA_INITIALIZATION_TYPE',
  'AWS_LAMBDA_LOG_GROUP_NAME',
  'AWS_LAMBDA_LOG_STREAM_NAME',
  'AWS_LAMBDA_RUNTIME_API',
  'LAMBDA_TASK_ROOT',
  'LAMBDA_RUNTIME_DIR',
];

/** `K=V` → `[K, V]` (the value may contain `=` and be empty). */
export function parseEnvAssignment(text: string): [string, string] {
  const eq = text.indexOf('=');
  const name = eq < 0 ? text : text.slice(0, eq);
  if (eq < 0 || name === '') throw new UserError(`--env expects NAME=VALUE, got '${text}'`);
  if (RESERVED_ENV_NAMES.includes(name)) {
    throw new UserError(`--env ${name}: this variable is reserved; Lambda sets it (use the matching option, e.g. --handler, --function-name, --memory, --region)`);
  }
  if (!ENV_NAME.test(name)) {
    throw new UserError(`--env ${name}: a variable name must start with a letter and hold only letters, digits and '_'`);
  }
  return [name, text.slice(eq + 1)];
}

/** Repeated `--env K=V` → one object (a later assignment of a name wins), within Lambda's 4 KB. */
export function envFromAssignments(assignments: readonly string[]): Record<string, string> {
  const env: Record<string, string> = {};
  for (const assignment of assignments) {
    const [name, value] = parseEnvAssignment(assignment);
    env[name] = value;
  }
  const bytes = Object.entries(env).reduce((sum, [k, v]) => sum + Buffer.byteLength(k) + Buffer.byteLength(v), 0);
  if (bytes > INVOKE_LIMITS.maxEnvBytes) {
    throw new UserError(`--env: the variables take ${bytes} bytes, over Lambda's limit of ${INVOKE_LIMITS.maxEnvBytes} bytes for all of them`);
  }
  return env;
}

/** Lambda's Invoke API only takes JSON payloads (InvalidRequestContentException otherwise). */
export function checkEventJson(text: string, source: string): string {
  try {
    JSON.parse(text);
  } catch (err) {
    throw new UserError(`${source} is not valid JSON (Lambda only accepts JSON events): ${(err as Error).message}`);
  }
  return text;
}

/** The function name to use when none is given: the function's directory (or zip) name. */
export function defaultFunctionName(functionPath: string): string {
  const base = path.basename(path.resolve(functionPath)).replace(/\.zip$/i, '');
  const cleaned = base.replace(/[^a-zA-Z0-9_-]/g, '-').slice(0, 64);
  return cleaned === '' || cleaned === '-' ? 'function' : cleaned;
}

/** Lambda's function names: letters, digits, `-` and `_`, 1..64 characters. */
export function checkFunctionName(name: string): string {
  if (!/^[a-zA-Z0-9_-]{1,64}$/.test(name)) {
    throw new UserError(`--function-name must be 1 to 64 letters, digits, '-' or '_', got '${name}'`);
  }
  return name;
}

/** What the CLI's parser hands over: raw strings, as typed. */
export interface InvokeArgs {
  /** `--layer`, repeatable: the layers in the order Lambda extracts them. */
  layer?: string | string[] | undefined;
  function?: string | undefined;
  handler?: string | undefined;
  event?: string | undefined;
  eventFile?: string | undefined;
  repeat?: string | undefined;
  timeout?: string | undefined;
  memory?: string | undefined;
  functionName?: string | undefined;
  env?: string[] | undefined;
  region?: string | undefined;
  platform?: string | undefined;
  image?: string | undefined;
  json?: boolean | undefined;
}

/** Checked values. The event is still to be read when it comes from a file. */
export interface InvokeSettings {
  /** One or more layer zips, in order. */
  layers: string[];
  functionPath: string;
  handler: string;
  /** Either the event text or the file to read it from (`-` for stdin). */
  event: { text: string } | { file: string };
  repeat: number;
  timeoutSeconds: number;
  memoryMb: number;
  functionName: string;
  env: Record<string, string>;
  region: string;
  platform: string | undefined;
  image: string | undefined;
  json: boolean;
}

export function settingsFromArgs(args: InvokeArgs): InvokeSettings {
  const required = (value: string | undefined, option: string, example: string): string => {
    if (value === undefined || value.trim() === '') throw new UserError(`${option} is required, e.g. ${option} ${example}`);
    return value;
  };
  const given = typeof args.layer === 'string' ? [args.layer] : (args.layer ?? []);
  if (given.length === 0) required(undefined, '--layer', 'dist/php-8.2.32-al2023-portable-x86_64.zip');
  const layers = given.map((l) => required(l, '--layer', 'dist/php-8.2.32-al2023-portable-x86_64.zip'));
  const functionPath = required(args.function, '--function', 'examples/hello');
  const handler = required(args.handler, '--handler', 'hello');
  if (args.event !== undefined && args.eventFile !== undefined) throw new UserError('give either --event or --event-file, not both');
  const event =
    args.eventFile !== undefined
      ? { file: required(args.eventFile, '--event-file', 'event.json') }
      : { text: checkEventJson(args.event ?? INVOKE_DEFAULTS.event, '--event') };
  const region = args.region ?? INVOKE_DEFAULTS.region;
  if (!/^[a-z]{2}(-[a-z]+)+-\d+$/.test(region)) throw new UserError(`--region must look like us-east-1, got '${region}'`);
  return {
    layers,
    functionPath,
    handler,
    event,
    repeat: args.repeat === undefined ? INVOKE_DEFAULTS.repeat : parsePositiveInt(args.repeat, '--repeat'),
    timeoutSeconds: args.timeout === undefined ? INVOKE_DEFAULTS.timeoutSeconds : parseTimeoutSeconds(args.timeout),
    memoryMb: args.memory === undefined ? INVOKE_DEFAULTS.memoryMb : parseMemoryMb(args.memory),
    functionName: args.functionName === undefined ? defaultFunctionName(functionPath) : checkFunctionName(args.functionName),
    env: envFromAssignments(args.env ?? []),
    region,
    platform: args.platform,
    image: args.image,
    json: Boolean(args.json),
  };
}
