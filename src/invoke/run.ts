/**
 * `invokeLayer()`: run a layer locally the way Lambda does. A Runtime API emulator on
 * 127.0.0.1, a sandbox (container) of the platform's runtime image with the layer at /opt and
 * the function at /var/task, the events invoked one after another; Lambda's platform lines and
 * the runtime's output as they come (onLog), each outcome when it is known (onInvocation).
 *
 * Like Lambda: one init serves every invocation until a timeout or a crash resets the sandbox
 * (the container is removed and the next invocation starts a fresh one, with its own Init
 * Duration); a handler error does not. An init error ends the run (the remaining events are not
 * invoked). The containers and the emulator are always removed/closed, also on abort.
 */
import { randomUUID } from 'node:crypto';
import { stat } from 'node:fs/promises';
import { DockerodeEngine } from '../docker/engine.js';
import type { DockerEngine } from '../docker/types.js';
import { MAX_SYNC_PAYLOAD_BYTES, RuntimeApiServer, type InvocationResult } from '../emulator/runtime-api-server.js';
import { UserError } from '../errors.js';
import { paths } from '../paths.js';
import { normalizeArch, PlatformRegistry } from '../platforms/registry.js';
import { runtimeImageFor } from '../pipeline/build-method.js';
import { checkRunsForeign } from '../pipeline/foreign-arch.js';
import { SANDBOX_PATHS, invokeEnvironment } from './environment.js';
import { chooseRuntimeImage, hasOwnBootstrap, packFunction, packOpt, readLayerEntries, readLayerManifest } from './layer.js';
import { combineLayers } from './layers.js';
import { LogWriter } from './log-writer.js';
import { defaultFunctionName, checkFunctionName, envFromAssignments, INVOKE_DEFAULTS, parseMemoryMb, parseTimeoutSeconds } from './options.js';
import { billedMs, bytesToMb, closingLines, describeInitFailure, exitCodeOf, formatStartLine } from './report.js';
import { INIT_TIMEOUT_MS, INVOKE_LABEL, Sandbox, type SandboxInit } from './sandbox.js';
import type { InvocationOutcome, InvokeLayerResult } from './types.js';

export interface InvokeLayerOptions {
  /**
   * The layer zip (its manifest `<zip>.json` names the platform), or several, in the order Lambda
   * extracts them into /opt (a later layer's files over an earlier one's).
   */
  layer: string | readonly string[];
  /** The function code: a directory or a function zip, put at /var/task. */
  functionPath: string;
  /** `_HANDLER`. */
  handler: string;
  /** The events (JSON text), invoked one after another (the CLI repeats one event `--repeat` times). */
  events: ReadonlyArray<string | Buffer>;
  /** Function timeout in seconds. Default 3. */
  timeoutSeconds?: number;
  /** Memory size in MB (the container's memory limit). Default 128. */
  memoryMb?: number;
  /** Default: the function directory's (or zip's) name. */
  functionName?: string;
  /** Default us-east-1. */
  region?: string;
  /** The function's own environment variables (reserved names refused, as Lambda does). */
  env?: Record<string, string>;
  /** Overrides the manifest's platform. */
  platform?: string;
  /** Overrides the platform's runtime image. */
  image?: string;
  /** Longest init phase (Lambda: 10 s); past it the event fails with Sandbox.Timedout. */
  initTimeoutSeconds?: number;
  engine?: DockerEngine;
  /** Default: dockerfiles/platforms.json. */
  registry?: PlatformRegistry;
  signal?: AbortSignal;
  /** Platform lines (START, END, REPORT, ...) and the runtime's output, as they come. */
  onLog?: (text: string) => void;
  /** Called as soon as each invocation's outcome is known (after its REPORT line). */
  onInvocation?: (outcome: InvocationOutcome) => void;
}

/** The run was interrupted (signal aborted); everything it started has been removed. */
export class InvokeAbortedError extends Error {
  override name = 'InvokeAbortedError';
  constructor() {
    super('interrupted: the sandbox was removed');
  }
}

export async function invokeLayer(options: InvokeLayerOptions): Promise<InvokeLayerResult> {
  const timeoutSeconds = parseTimeoutSeconds(String(options.timeoutSeconds ?? INVOKE_DEFAULTS.timeoutSeconds));
  const memoryMb = parseMemoryMb(String(options.memoryMb ?? INVOKE_DEFAULTS.memoryMb));
  const functionName = checkFunctionName(options.functionName ?? defaultFunctionName(options.functionPath));
  const region = options.region ?? INVOKE_DEFAULTS.region;
  const userEnv = envFromAssignments(Object.entries(options.env ?? {}).map(([k, v]) => `${k}=${v}`));
  if (options.events.length === 0) throw new UserError('no event to invoke');
  if (options.initTimeoutSeconds !== undefined && !(options.initTimeoutSeconds > 0)) {
    throw new UserError(`initTimeoutSeconds must be above 0, got ${options.initTimeoutSeconds}`);
  }
  const events = options.events.map((event) => (typeof event === 'string' ? Buffer.from(event, 'utf8') : event));
  for (const event of events) {
    if (event.length > MAX_SYNC_PAYLOAD_BYTES) {
      throw new UserError(`the event has ${event.length} bytes, over Lambda's limit of ${MAX_SYNC_PAYLOAD_BYTES} bytes for a synchronous invocation`);
    }
  }
  options.signal?.throwIfAborted();

  const zips = typeof options.layer === 'string' ? [options.layer] : [...options.layer];
  for (const zip of zips) if (!(await isFile(zip))) throw new UserError(`layer zip ${zip} does not exist (build one with npm run build-runtime)`);
  const registry = options.registry ?? (await PlatformRegistry.load(paths.platforms));
  const [inputs, fn] = await Promise.all([
    Promise.all(zips.map(async (zip) => ({ zip, entries: await readLayerEntries(zip), manifest: await readLayerManifest(zip) }))),
    packFunction(options.functionPath),
  ]);
  const combined = combineLayers(inputs, fn.entries);
  const { manifest } = combined;
  const first = combined.manifestZip;
  let choice = chooseRuntimeImage({ layer: first, manifest, platform: options.platform, image: options.image, registry });
  const layer = { archive: await packOpt(combined.entries), entries: combined.entries };
  const ownBootstrap = hasOwnBootstrap(fn.entries);
  if (!ownBootstrap && !layer.entries.some((e) => e.path === 'bootstrap' && e.type !== 'directory')) {
    const which = zips.length === 1 ? `${first} has no bootstrap at its root` : `none of ${zips.join(', ')} has a bootstrap at its root`;
    throw new UserError(`${which} (and the function has none): ${zips.length === 1 ? 'it is not a runtime layer' : 'give a runtime layer too'}`);
  }

  const engine = options.engine ?? new DockerodeEngine();
  await engine.ping();
  const layerArch = manifest?.arch === undefined ? undefined : normalizeArch(manifest.arch);
  if (layerArch !== undefined) {
    const engineArch = normalizeArch((await engine.info()).arch);
    if (layerArch !== engineArch) {
      // A layer of another arch runs under QEMU (binfmt_misc), in its platform's image for that arch.
      if (layerArch !== 'x86_64' && layerArch !== 'arm64') throw new UserError(`${first} is built for ${manifest!.arch}, which no Lambda runs`);
      let makeImages: string | undefined;
      if (choice.source !== 'image option' && choice.platform !== undefined && registry.names().includes(choice.platform)) {
        const foreign = runtimeImageFor(registry.get(choice.platform), layerArch, engineArch);
        choice = { ...choice, image: foreign.image };
        makeImages = foreign.makeImages;
      }
      await checkRunsForeign(engine, { image: choice.image, arch: layerArch, engineArch, makeImages, what: `invoke ${first} (${layerArch})` });
    }
  }
  if ((await engine.inspectImage(choice.image)) === null) {
    throw new UserError(
      `the runtime image ${choice.image}${choice.platform ? ` (platform ${choice.platform})` : ''} is not in the Docker engine: ` +
        `pull it (docker pull ${choice.image}) or create it (bash .ci/setup-machine.sh for Debian images)`,
    );
  }

  const runId = randomUUID();
  const timeoutMs = timeoutSeconds * 1000;
  const writer = new LogWriter(options.onLog ?? (() => undefined));
  const api = new RuntimeApiServer({ functionName, timeoutMs, region });
  api.on('invocation-start', ({ requestId }) => writer.line(formatStartLine(requestId)));
  const outcomes: InvocationOutcome[] = [];
  let sandbox: Sandbox | undefined;

  const aborted = abortPromise(options.signal);
  const abortable = <T>(promise: Promise<T>): Promise<T> => (aborted === undefined ? promise : Promise.race([promise, aborted.promise]));

  try {
    await api.listen();
    const env = invokeEnvironment({ runtimeApi: api.address, handler: options.handler, functionName, memoryMb, region, userEnv });

    const startSandbox = async (): Promise<SandboxInit> => {
      // Not raced with the abort: the container must be known to be removed.
      const created = await Sandbox.create({
        engine,
        api,
        image: choice.image,
        env,
        memoryMb,
        archives: [layer.archive, fn.archive],
        entrypoint: [ownBootstrap ? SANDBOX_PATHS.functionBootstrap : SANDBOX_PATHS.layerBootstrap],
        workingDir: SANDBOX_PATHS.taskRoot,
        labels: { [INVOKE_LABEL]: runId },
        onOutput: (_stream, text) => writer.output(text),
        initTimeoutMs: (options.initTimeoutSeconds ?? INIT_TIMEOUT_MS / 1000) * 1000,
      });
      sandbox = created;
      options.signal?.throwIfAborted();
      return abortable(created.start());
    };

    const discardSandbox = async (): Promise<void> => {
      const current = sandbox;
      sandbox = undefined;
      await current?.remove();
    };

    const outcomeOf = (
      result: InvocationResult,
      fields: Pick<InvocationOutcome, 'status' | 'initDurationMs' | 'maxMemoryUsedMb' | 'containerId' | 'logs'> &
        Partial<Pick<InvocationOutcome, 'body' | 'errorType' | 'errorMessage'>>,
    ): InvocationOutcome => ({
      requestId: result.requestId,
      body: fields.body ?? result.body.toString('utf8'),
      contentType: result.contentType,
      errorType: fields.errorType ?? result.errorType,
      errorMessage: fields.errorMessage ?? result.errorMessage,
      durationMs: result.durationMs,
      billedDurationMs: billedMs(result.durationMs, fields.initDurationMs),
      memorySizeMb: memoryMb,
      status: fields.status,
      initDurationMs: fields.initDurationMs,
      maxMemoryUsedMb: fields.maxMemoryUsedMb,
      containerId: fields.containerId,
      logs: fields.logs,
    });

    /**
     * The event could not be served: no runtime came up. Ends it (queued now, or already queued
     * as `pending`) with the init error.
     */
    const initFailure = async (
      event: Buffer,
      init: Exclude<SandboxInit, { status: 'ready' }>,
      pending?: Promise<InvocationResult>,
    ): Promise<InvocationOutcome> => {
      const failed = sandbox!;
      await failed.waitForQuietOutput();
      const memory = await failed.sampleMemory();
      const containerId = failed.id;
      // Gone before the event is queued, so that no runtime can still take it.
      await discardSandbox();
      const error = describeInitFailure(init);
      const queued = pending ?? api.invoke(event);
      api.failQueued({ errorType: error.errorType, errorMessage: error.errorMessage });
      const result = await queued;
      return outcomeOf(result, {
        status: 'init-error',
        body: error.body ?? result.body.toString('utf8'),
        errorType: error.errorType,
        errorMessage: error.errorMessage,
        initDurationMs: init.initDurationMs,
        maxMemoryUsedMb: bytesToMb(memory),
        containerId,
        logs: writer.takeCapture(),
      });
    };

    const invokeOnce = async (event: Buffer): Promise<InvocationOutcome> => {
      let initDurationMs: number | undefined;
      writer.startCapture();
      if (sandbox === undefined) {
        const init = await startSandbox();
        if (init.status !== 'ready') return initFailure(event, init);
        initDurationMs = init.initDurationMs;
        await abortable(sandbox!.sampleMemory());
      }
      const pending = api.invoke(event);
      let result: InvocationResult;
      for (;;) {
        const current = sandbox!;
        const first = await abortable(Promise.race([pending, current.exited.then(() => undefined)]));
        if (first !== undefined) {
          result = first;
          break;
        }
        if (api.queuedCount > 0) {
          // The runtime died before taking the event (idle, or right after asking for it): like
          // Lambda, a fresh sandbox serves it.
          await discardSandbox();
          const init = await startSandbox();
          if (init.status !== 'ready') return initFailure(event, init, pending);
          initDurationMs = init.initDurationMs;
          continue;
        }
        result = await pending; // ended as Runtime.ExitError by the exit report
        break;
      }

      const served = sandbox!;
      const crashed = result.status === 'error' && served.crashedRequestIds.has(result.requestId);
      const [sampled] = await abortable(Promise.all([served.sampleMemory(), served.waitForQuietOutput()]));
      let memory = sampled;
      let errorType = result.errorType;
      let body: string | undefined;
      if (crashed && (await served.oomKilled())) {
        // The cgroup reached its limit (that is what triggers the OOM killer): all of it was used.
        errorType = 'Runtime.OutOfMemory';
        body = JSON.stringify({ errorType, errorMessage: result.errorMessage });
        memory = Math.max(memory, memoryMb * 1024 * 1024);
      }
      const outcome = outcomeOf(result, {
        status: result.status === 'timeout' ? 'timeout' : crashed ? 'crash' : result.status,
        errorType,
        ...(body !== undefined ? { body } : {}),
        initDurationMs,
        maxMemoryUsedMb: bytesToMb(memory),
        containerId: served.id,
        logs: writer.takeCapture(),
      });
      // A timeout or a crash resets the sandbox: the next event gets a fresh one.
      if (outcome.status === 'timeout' || outcome.status === 'crash') await discardSandbox();
      return outcome;
    };

    for (const event of events) {
      const outcome = await invokeOnce(event);
      for (const line of closingLines(outcome, timeoutMs)) writer.line(line);
      outcomes.push(outcome);
      options.onInvocation?.(outcome);
      if (outcome.status === 'init-error') break;
    }
  } catch (err) {
    if (options.signal?.aborted) throw new InvokeAbortedError();
    throw err;
  } finally {
    aborted?.dispose();
    const leftover = sandbox as Sandbox | undefined;
    sandbox = undefined;
    await leftover?.remove().catch(() => undefined);
    await api.close();
  }

  return {
    runId,
    layer: zips[0]!,
    layers: zips,
    sizeBudget: combined.budget,
    platform: choice.platform,
    image: choice.image,
    functionName,
    invocations: outcomes,
    exitCode: exitCodeOf(outcomes),
  };
}

async function isFile(file: string): Promise<boolean> {
  try {
    return (await stat(file)).isFile();
  } catch {
    return false;
  }
}

/** A promise that rejects when the signal aborts (never, without a signal). */
function abortPromise(signal: AbortSignal | undefined): { promise: Promise<never>; dispose: () => void } | undefined {
  if (signal === undefined) return undefined;
  let onAbort: () => void = () => undefined;
  const promise = new Promise<never>((_resolve, reject) => {
    onAbort = () => reject(new InvokeAbortedError());
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
  });
  promise.catch(() => undefined);
  return { promise, dispose: () => signal.removeEventListener('abort', onAbort) };
}
