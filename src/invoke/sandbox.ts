/**
 * One Lambda sandbox: a container of the platform's runtime image with the layer at /opt and
 * the function at /var/task (put in with putArchive: no bind mounts), host networking so that the
 * runtime reaches the Runtime API emulator on 127.0.0.1, and its main process's output streamed
 * as it is written.
 *
 * The sandbox tells the emulator when its runtime process starts (Init Duration) and exits
 * (the invocation it was serving ends as `Runtime.ExitError`), as the emulator expects of the
 * owner of a runtime process. An exit we caused (stop(), remove()) is not reported.
 */
import { performance } from 'node:perf_hooks';
import { Readable } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';
import type { Attachment, Container, DockerEngine, ExecResult, OutputStream } from '../docker/types.js';
import type { RuntimeApiServer, RuntimeErrorReport, RuntimeExit } from '../emulator/runtime-api-server.js';
import type { PackedArchive } from './layer.js';
import { MEMORY_PROBE_COMMAND, MemoryPeak, parseMemoryProbe } from './memory.js';
import { epochMsOfTimestamp } from './time.js';

/** Label carried by every container `invoke` (and its benchmark) creates; the value is a run id. */
export const INVOKE_LABEL = 'io.lambda-runtime-builder.invoke';

export interface SandboxOptions {
  engine: DockerEngine;
  api: RuntimeApiServer;
  image: string;
  env: Record<string, string>;
  memoryMb: number;
  /** Put into the container before its first start (e.g. the layer at /opt, the function at /var/task). */
  archives: readonly PackedArchive[];
  entrypoint: string[];
  cmd?: string[];
  workingDir?: string;
  labels?: Record<string, string>;
  /** The runtime's output, decoded as UTF-8, as it comes. */
  onOutput?: (stream: OutputStream, text: string) => void;
  /** Longest init phase before the runtime is killed (Lambda: 10 s). Default 10,000 ms. */
  initTimeoutMs?: number;
}

/** Lambda's limit on the init phase. */
export const INIT_TIMEOUT_MS = 10_000;

export interface InitTimings {
  /**
   * Runtime process start → first GET /next, ms: measured from the engine's record of when it
   * started the process (State.StartedAt) when that is consistent with our own clock, else
   * {@link fromStartRequestMs}.
   */
  initDurationMs: number;
  /** From just before the engine's start request → first GET /next (includes the engine's own work), ms. */
  fromStartRequestMs: number;
  /** From State.StartedAt → first GET /next, ms, when it could be measured. */
  fromProcessStartMs: number | undefined;
}

export type SandboxInit =
  | ({ status: 'ready' } & InitTimings)
  | { status: 'error'; error: RuntimeErrorReport; initDurationMs: number | undefined }
  | { status: 'exited'; exit: RuntimeExit; initDurationMs: number }
  /** The init phase ran past initTimeoutMs; the runtime was killed. */
  | { status: 'timeout'; initTimeoutMs: number; initDurationMs: number };

export class Sandbox {
  private attachment: Attachment | undefined;
  private runs = 0;
  private reportExit = false;
  private alive = false;
  private exitPromise: Promise<RuntimeExit> | undefined;
  private lastOutputAt = 0;
  private readonly peak = new MemoryPeak();
  private removed = false;
  /** Request ids that ended as crashes when the runtime process last exited by itself. */
  readonly crashedRequestIds = new Set<string>();

  private constructor(
    private readonly options: SandboxOptions,
    private readonly container: Container,
  ) {}

  /** Creates the container and puts the archives in; nothing runs yet. */
  static async create(options: SandboxOptions): Promise<Sandbox> {
    const container = await options.engine.createContainer({
      image: options.image,
      entrypoint: options.entrypoint,
      cmd: options.cmd ?? [],
      env: options.env,
      networkMode: 'host',
      memoryBytes: options.memoryMb * 1024 * 1024,
      workingDir: options.workingDir ?? '/var/task',
      labels: options.labels ?? {},
    });
    try {
      for (const archive of options.archives) await container.putArchive(Readable.from([archive.tar]), archive.path);
    } catch (err) {
      await container.remove().catch(() => undefined);
      throw err;
    }
    return new Sandbox(options, container);
  }

  get id(): string {
    return this.container.id;
  }

  /** Whether the runtime process is running (started, and not exited yet as far as we know). */
  get running(): boolean {
    return this.alive;
  }

  /** Resolves when the current runtime process exits. */
  get exited(): Promise<RuntimeExit> {
    if (this.exitPromise === undefined) throw new Error('the sandbox was not started');
    return this.exitPromise;
  }

  /**
   * Starts the runtime process (again, after stop()) and waits for the end of its init phase:
   * its first GET /next, an init error it posted, or its exit.
   */
  async start(): Promise<SandboxInit> {
    if (this.alive) throw new Error('the sandbox is already running');
    if (this.removed) throw new Error('the sandbox was removed');
    const { api } = this.options;
    this.attachment?.close();
    const decoders = { stdout: new StringDecoder('utf8'), stderr: new StringDecoder('utf8') };
    this.attachment = await this.container.attach((stream, chunk) => {
      this.lastOutputAt = performance.now();
      const text = decoders[stream].write(chunk);
      if (text !== '') this.options.onOutput?.(stream, text);
    });
    const run = ++this.runs;
    this.crashedRequestIds.clear();
    const markAt = performance.now();
    api.markProcessStart(markAt);
    // Registered before the start, so that an exit during init resolves it (see reportExitToApi).
    const init = api.waitForInit();
    try {
      await this.container.start();
    } catch (err) {
      // e.g. the entrypoint does not exist or is not executable: Lambda's Runtime.InvalidEntrypoint.
      const message = (err as { json?: { message?: string } }).json?.message ?? (err as Error).message;
      const error: RuntimeErrorReport = {
        errorType: 'Runtime.InvalidEntrypoint',
        errorMessage: `the runtime could not be started: ${message.trim()}`,
        stackTrace: [],
        functionErrorType: undefined,
        contentType: 'application/json',
        body: Buffer.from(JSON.stringify({ errorType: 'Runtime.InvalidEntrypoint', errorMessage: message.trim() })),
      };
      this.exitPromise = Promise.resolve({ code: null, signal: null });
      return { status: 'error', error, initDurationMs: undefined };
    }
    this.alive = true;
    this.reportExit = true;
    this.exitPromise = this.container.wait().then(
      (code): RuntimeExit => ({ code, signal: null }),
      (): RuntimeExit => ({ code: null, signal: null }),
    );
    void this.exitPromise.then((exit) => {
      if (run !== this.runs) return;
      this.alive = false;
      if (this.reportExit) this.reportExitToApi(exit);
    });

    const initTimeoutMs = this.options.initTimeoutMs ?? INIT_TIMEOUT_MS;
    const outcome = await withTimeout(init, initTimeoutMs);
    if (outcome === undefined) {
      const { initDurationMs } = await this.initTimings(markAt, performance.now() - markAt);
      await this.stop();
      return { status: 'timeout', initTimeoutMs, initDurationMs };
    }
    if (outcome.status === 'exited') return { status: 'exited', exit: outcome.exit, initDurationMs: performance.now() - markAt };
    const measured = outcome.initDurationMs;
    const timings = measured === undefined ? undefined : await this.initTimings(markAt, measured);
    if (outcome.status === 'error') return { status: 'error', error: outcome.error, initDurationMs: timings?.initDurationMs };
    return { status: 'ready', ...(timings ?? { initDurationMs: 0, fromStartRequestMs: 0, fromProcessStartMs: undefined }) };
  }

  /** Tells the emulator the process exited, remembering which invocations that ended. */
  private reportExitToApi(exit: RuntimeExit): void {
    const { api } = this.options;
    const ended = (result: { requestId: string }): void => {
      this.crashedRequestIds.add(result.requestId);
    };
    api.on('invocation-end', ended);
    try {
      api.reportRuntimeExit(exit);
    } finally {
      api.off('invocation-end', ended);
    }
  }

  private async initTimings(markAt: number, fromStartRequestMs: number): Promise<InitTimings> {
    let fromProcessStartMs: number | undefined;
    try {
      const startedAt = (await this.container.inspect()).startedAt;
      const startedAtMs = startedAt === undefined ? undefined : epochMsOfTimestamp(startedAt);
      if (startedAtMs !== undefined) {
        const firstNextAt = performance.timeOrigin + markAt + fromStartRequestMs;
        fromProcessStartMs = firstNextAt - startedAtMs;
      }
    } catch {
      // The container may already be gone; the request-based figure stands.
    }
    // The engine's clock is ours when the engine is local; a figure outside [0, request-based]
    // means it is not (a VM, a remote engine), and the request-based one is used.
    const consistent = fromProcessStartMs !== undefined && fromProcessStartMs >= 0 && fromProcessStartMs <= fromStartRequestMs + 1;
    return {
      initDurationMs: consistent ? fromProcessStartMs! : fromStartRequestMs,
      fromStartRequestMs,
      fromProcessStartMs: consistent ? fromProcessStartMs : undefined,
    };
  }

  /**
   * Peak memory of the sandbox so far, in bytes (see memory.ts). Probes the container
   * while the runtime is running; afterwards returns the last known peak.
   */
  async sampleMemory(timeoutMs = 3000): Promise<number> {
    if (this.alive) {
      try {
        const result = await withTimeout(this.container.exec([...MEMORY_PROBE_COMMAND]), timeoutMs);
        if (result !== undefined) this.peak.observe(parseMemoryProbe(result.stdout));
      } catch {
        // Exited meanwhile: keep the last known peak.
      }
    }
    return this.peak.bytes;
  }

  /**
   * Waits until the runtime's output has been quiet for `quietMs` (at most `maxMs`), so that
   * what it wrote before answering is printed before our END line. Output travels through the
   * engine, so it may arrive a little after the runtime's HTTP response.
   */
  async waitForQuietOutput(quietMs = 20, maxMs = 300): Promise<void> {
    const started = performance.now();
    for (;;) {
      const now = performance.now();
      const quietFor = now - this.lastOutputAt;
      if (quietFor >= quietMs || now - started >= maxMs) return;
      await sleep(Math.min(quietMs - quietFor, maxMs - (now - started)) + 1);
    }
  }

  /** Runs a command in the running sandbox (with the sandbox's environment). */
  exec(cmd: string[]): Promise<ExecResult> {
    return this.container.exec(cmd);
  }

  /** Whether the kernel killed something in the sandbox for exceeding the memory limit. */
  async oomKilled(): Promise<boolean> {
    try {
      return (await this.container.inspect()).oomKilled;
    } catch {
      return false;
    }
  }

  /** Kills the runtime process (not reported to the emulator) and waits until it is gone. */
  async stop(): Promise<void> {
    this.reportExit = false;
    if (this.exitPromise === undefined) return;
    await this.container.kill('SIGKILL');
    await withTimeout(this.exitPromise, 10_000);
    this.alive = false;
  }

  /** Kills and removes the container. Idempotent; never reports the exit to the emulator. */
  async remove(): Promise<void> {
    this.reportExit = false;
    this.alive = false;
    this.removed = true;
    this.attachment?.close();
    await this.container.remove();
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));
}

/** The promise's value, or undefined after `ms` (the promise keeps running). */
async function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  try {
    // Unref'd: waiting for a runtime never keeps the process alive by itself (e.g. after Ctrl-C).
    return await Promise.race([promise, new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), ms).unref()))]);
  } finally {
    clearTimeout(timer);
  }
}
