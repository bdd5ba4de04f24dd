/**
 * Running a runtime as a local child process against a {@link RuntimeApiServer}: used by the
 * runtime tests and the benchmark (the `invoke` CLI runs the same layer in Docker instead, but
 * can reuse {@link lambdaEnvironment}).
 */
import { LAMBDA_ENV } from '../lambda.js';
import { spawn, type ChildProcess } from 'node:child_process';
import { cp, mkdir, mkdtemp, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { RuntimeApiServer, RuntimeExit } from './runtime-api-server.js';

/** runtime/php/layer of this repository: the files a PHP layer puts under /opt. */
export const PHP_LAYER_SOURCE = fileURLToPath(new URL('../../runtime/php/layer/', import.meta.url));

export interface LambdaEnvironmentOptions {
  /** AWS_LAMBDA_RUNTIME_API, i.e. `RuntimeApiServer.address`. */
  runtimeApi: string;
  handler: string;
  /** Default /var/task. */
  taskRoot?: string;
  functionName?: string;
  functionVersion?: string;
  memorySizeMb?: number;
  region?: string;
  /** Extra variables, set last. */
  extra?: Record<string, string>;
}

/** The reserved variables Lambda gives a `provided*` runtime (credentials left out). */
export function lambdaEnvironment(options: LambdaEnvironmentOptions): Record<string, string> {
  const functionName = options.functionName ?? 'function';
  const version = options.functionVersion ?? '$LATEST';
  const region = options.region ?? 'us-east-1';
  const today = new Date().toISOString().slice(0, 10).replaceAll('-', '/');
  return {
    PATH: LAMBDA_ENV.PATH,
    LD_LIBRARY_PATH: LAMBDA_ENV.LD_LIBRARY_PATH,
    LANG: 'en_US.UTF-8',
    TZ: ':UTC',
    _HANDLER: options.handler,
    LAMBDA_TASK_ROOT: options.taskRoot ?? '/var/task',
    LAMBDA_RUNTIME_DIR: '/var/runtime',
    AWS_LAMBDA_RUNTIME_API: options.runtimeApi,
    AWS_REGION: region,
    AWS_DEFAULT_REGION: region,
    AWS_EXECUTION_ENV: 'AWS_Lambda_provided',
    AWS_LAMBDA_FUNCTION_NAME: functionName,
    AWS_LAMBDA_FUNCTION_VERSION: version,
    AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(options.memorySizeMb ?? 128),
    AWS_LAMBDA_LOG_GROUP_NAME: `/aws/lambda/${functionName}`,
    AWS_LAMBDA_LOG_STREAM_NAME: `${today}/[${version}]00000000000000000000000000000000`,
    AWS_LAMBDA_INITIALIZATION_TYPE: 'on-demand',
    ...options.extra,
  };
}

/**
 * Lays out a directory like /opt: a copy of `layerSource` (bootstrap, runtime/) plus
 * `bin/php` symlinked to `phpBinary`. Returns its path; remove it with `rm -r` when done.
 */
export async function prepareLocalLayer(options: { phpBinary: string; layerSource?: string; parentDir?: string }): Promise<string> {
  const dir = await mkdtemp(path.join(options.parentDir ?? tmpdir(), 'php-layer-'));
  try {
    await cp(options.layerSource ?? PHP_LAYER_SOURCE, dir, { recursive: true, preserveTimestamps: true });
    await mkdir(path.join(dir, 'bin'), { recursive: true });
    await symlink(options.phpBinary, path.join(dir, 'bin', 'php'));
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
  return dir;
}

/**
 * How to run the bootstrap of a directory made by prepareLocalLayer: `<dir>/bin/php <dir>/bootstrap`.
 * The bootstrap's `#!/opt/bin/php` line only holds where the layer is at /opt, as on Lambda.
 */
export function localBootstrapCommand(layerDir: string): { command: string; args: string[] } {
  return { command: path.join(layerDir, 'bin', 'php'), args: [path.join(layerDir, 'bootstrap')] };
}

export interface LocalRuntimeOptions {
  api: RuntimeApiServer;
  /** Executable to run, e.g. `<layer>/bootstrap`. */
  command: string;
  args?: string[];
  env: Record<string, string>;
  cwd?: string;
  /** Called with each chunk the process writes (stdout and stderr), as it arrives. */
  onOutput?: (stream: 'stdout' | 'stderr', chunk: string) => void;
  /** Keep at most this many characters of each stream (oldest dropped). Default 1,000,000. */
  keepOutputChars?: number;
}

/**
 * One runtime process at a time: start() marks the process start on the API server (Init
 * Duration) and reports its exit to it. The process gets its own process group so that stop()
 * also kills anything it started.
 */
export class LocalRuntime {
  private child: ChildProcess | undefined;
  private exitPromise: Promise<RuntimeExit> | undefined;
  private out = '';
  private err = '';

  constructor(private readonly options: LocalRuntimeOptions) {}

  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** Everything the processes started so far wrote to stdout (bounded, see keepOutputChars). */
  get stdout(): string {
    return this.out;
  }

  get stderr(): string {
    return this.err;
  }

  get running(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Resolves when the current process exits. */
  get exited(): Promise<RuntimeExit> {
    if (this.exitPromise === undefined) throw new Error('LocalRuntime was not started');
    return this.exitPromise;
  }

  start(): void {
    if (this.running) throw new Error('LocalRuntime is already running');
    const { api, command, args = [], env, cwd } = this.options;
    api.markProcessStart();
    const child = spawn(command, args, { env, cwd, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    const keep = this.options.keepOutputChars ?? 1_000_000;
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      this.out = trimTo(this.out + chunk, keep);
      this.options.onOutput?.('stdout', chunk);
    });
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
      this.err = trimTo(this.err + chunk, keep);
      this.options.onOutput?.('stderr', chunk);
    });
    this.exitPromise = new Promise<RuntimeExit>((resolve) => {
      child.once('error', (error) => {
        this.err += `\n${String(error)}\n`;
        resolve({ code: null, signal: null });
      });
      child.once('close', (code, signal) => resolve({ code, signal }));
    }).then((exit) => {
      if (this.child === child) api.reportRuntimeExit(exit);
      return exit;
    });
  }

  /** Kills the process group (SIGKILL by default) and waits for the exit. */
  async stop(signal: NodeJS.Signals = 'SIGKILL'): Promise<RuntimeExit | undefined> {
    const child = this.child;
    if (child === undefined || this.exitPromise === undefined) return undefined;
    if (child.pid !== undefined) {
      // The whole group: the runtime and anything it started (even if orphaned).
      try {
        process.kill(-child.pid, signal);
      } catch {
        if (this.running) child.kill(signal);
      }
    }
    return this.exitPromise;
  }

  /** stop() then start(): what an owner does after a timeout. */
  async restart(): Promise<void> {
    await this.stop();
    this.start();
  }
}

function trimTo(text: string, max: number): string {
  return text.length > max ? text.slice(text.length - max) : text;
}
