/**
 * Runs the real bootstrap (runtime/php/layer) with the system PHP against a RuntimeApiServer,
 * in a temp dir laid out like /opt, with the layer's php.ini (etc/php/php.ini, through PHPRC:
 * the same as `php -c <ini>`; the host PHP's scan dir still loads its curl extension). Every
 * runtime and server started through useRuntimeHarness() is killed/closed in afterEach.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll } from 'vitest';
import {
  LocalRuntime,
  RuntimeApiServer,
  lambdaEnvironment,
  localBootstrapCommand,
  prepareLocalLayer,
  type RuntimeApiServerOptions,
} from '../../../src/emulator/index.js';

/** The PHP used by the runtime tests; PHP_BIN overrides it (e.g. to try another PHP version). */
export const PHP_BINARY = process.env['PHP_BIN'] ?? '/usr/bin/php';
export const FIXTURES = fileURLToPath(new URL('./fixtures/', import.meta.url));
export const EXAMPLES = fileURLToPath(new URL('../../../examples/', import.meta.url));
/** The layer tested; RUNTIME_LAYER overrides it (e.g. an older runtime/php/layer, to compare). */
export const LAYER_SOURCE = process.env['RUNTIME_LAYER'] ?? fileURLToPath(new URL('../../../runtime/php/layer/', import.meta.url));
/** The layer's php.ini, relative to the layer's root (/opt on Lambda). */
export const LAYER_INI = 'etc/php/php.ini';

/**
 * The exit-status table of runtime/src/ExitStatus.php (its one home), read with PHP.
 * Evaluated when first used, after assertPhpAvailable() had its chance to explain a missing PHP.
 */
export function exitStatus(): Record<'RESTART' | 'INIT_ERROR' | 'API_ERROR' | 'SIGNALLED', number> {
  const script = `require ${JSON.stringify(path.join(LAYER_SOURCE, 'runtime/src/ExitStatus.php'))};`
    + ` echo json_encode((new ReflectionClass('LambdaRuntime\\ExitStatus'))->getConstants());`;
  return JSON.parse(execFileSync(PHP_BINARY, ['-r', script], { encoding: 'utf8' }));
}

const INSTALL_HINT = 'Run `.ci/run`, or install it with `apt-get install php-cli php-curl`.';

/** Fails (never skips) when PHP or its curl/json extensions are missing. */
export function assertPhpAvailable(): void {
  if (!existsSync(PHP_BINARY)) {
    throw new Error(`The runtime tests need a PHP CLI at ${PHP_BINARY}, which does not exist. ${INSTALL_HINT}`);
  }
  try {
    execFileSync(PHP_BINARY, ['-r', 'exit(extension_loaded("curl") && extension_loaded("json") ? 0 : 3);'], { stdio: 'pipe' });
  } catch (error) {
    const status = (error as { status?: number }).status;
    throw new Error(
      status === 3
        ? `${PHP_BINARY} has no curl (or json) extension, which the runtime needs. ${INSTALL_HINT}`
        : `${PHP_BINARY} does not run: ${String(error)}. ${INSTALL_HINT}`,
    );
  }
}

export interface StartOptions {
  handler: string;
  taskRoot: string;
  api?: RuntimeApiServerOptions;
  memorySizeMb?: number;
  env?: Record<string, string>;
  /** Wait for the first GET /next (default true). */
  waitForInit?: boolean;
  /**
   * Run the bootstrap under `ulimit -v` (KiB of address space): a stand-in for the sandbox's
   * memory limit, so that running out of memory ends in a failed allocation, not in the host
   * swapping.
   */
  addressSpaceKib?: number;
}

export interface Started {
  api: RuntimeApiServer;
  runtime: LocalRuntime;
  layerDir: string;
}

export function useRuntimeHarness(): {
  start: (options: StartOptions) => Promise<Started>;
  layerDir: () => string;
  track: (cleanup: () => Promise<unknown>) => void;
} {
  let layerDir = '';
  const cleanups: Array<() => Promise<unknown>> = [];

  beforeAll(async () => {
    assertPhpAvailable();
    layerDir = await prepareLocalLayer({ phpBinary: PHP_BINARY, layerSource: LAYER_SOURCE });
  });

  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  afterAll(async () => {
    if (layerDir !== '') await rm(layerDir, { recursive: true, force: true });
  });

  const start = async (options: StartOptions): Promise<Started> => {
    const api = new RuntimeApiServer({ functionName: 'test-function', timeoutMs: 10_000, ...options.api });
    cleanups.push(() => api.close());
    await api.listen();
    const bootstrap = localBootstrapCommand(layerDir);
    const limited = options.addressSpaceKib !== undefined;
    const runtime = new LocalRuntime({
      api,
      command: limited ? '/bin/sh' : bootstrap.command,
      args: limited ? ['-c', `ulimit -v ${options.addressSpaceKib} && exec "$0" "$@"`, bootstrap.command, ...bootstrap.args] : bootstrap.args,
      cwd: options.taskRoot,
      env: lambdaEnvironment({
        runtimeApi: api.address,
        handler: options.handler,
        taskRoot: options.taskRoot,
        functionName: 'test-function',
        memorySizeMb: options.memorySizeMb ?? 128,
        extra: { ...layerIni(layerDir), ...options.env },
      }),
    });
    cleanups.push(() => runtime.stop());
    runtime.start();
    if (options.waitForInit !== false) {
      const outcome = await Promise.race([api.waitForInit(), runtime.exited.then((exit) => ({ status: 'exited' as const, exit }))]);
      if (outcome.status !== 'ready') {
        throw new Error(`Runtime did not start: ${JSON.stringify(outcome)}\nstdout: ${runtime.stdout}\nstderr: ${runtime.stderr}`);
      }
    }
    return { api, runtime, layerDir };
  };

  return { start, layerDir: () => layerDir, track: (cleanup) => cleanups.push(cleanup) };
}

/** The variable that makes PHP read the layer's php.ini instead of the host's. */
export function layerIni(layerDir: string): Record<string, string> {
  return { PHPRC: path.join(layerDir, LAYER_INI) };
}

/** Parses a JSON body (Buffer) of an invocation result. */
export function json(body: Buffer): any {
  return JSON.parse(body.toString('utf8'));
}
