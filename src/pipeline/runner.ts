import { LogTail } from '../docker/build-output.js';
import type { DockerEngine } from '../docker/types.js';
import { InterruptedError, StepError } from '../errors.js';
import { BuildLog } from './build-log.js';
import { TrackedEngine } from './tracked-engine.js';
import type { PreparedBuild } from './prepare.js';
import type { StepName, StepOutputs } from './step-types.js';
import type { Step, StepContext, StepEnv } from './step-types.js';
import { removeQuietly } from './output-files.js';

export interface RunnerOptions extends StepEnv {
  engine: DockerEngine;
  signal?: AbortSignal;
  /** Every log line (for --verbose and a terminal task's status line). */
  onLog?: (line: string) => void;
  /**
   * Progress a CI log needs: each step's start, each Dockerfile step, and a heartbeat while a
   * step runs (`heartbeatMs`, default one minute).
   */
  onProgress?: (line: string) => void;
  heartbeatMs?: number;
}

/** A Dockerfile step as the classic builder announces it: `Step 3/17 : RUN ...`. */
const DOCKER_STEP = /^Step \d+\/\d+ : /;

/** The words of the once-a-minute progress line a long step sends: `<step>: still running after <time>; last: <line>`. */
const HEARTBEAT_WORDS = 'still running after';

/** Whether a progress line (onProgress) is a step's heartbeat: for a caller that wants only the pulse of a long build. */
export function isHeartbeat(line: string): boolean {
  return HEARTBEAT.test(line);
}
const HEARTBEAT = new RegExp(`^[a-z0-9-]+: ${HEARTBEAT_WORDS} `);

/** `42 s`, `18 min 05 s`: how long a step (or a build so far) took, for logs and titles. */
export function formatElapsed(ms: number): string {
  const s = Math.round(ms / 1000);
  return s < 60 ? `${s} s` : `${Math.floor(s / 60)} min ${String(s % 60).padStart(2, '0')} s`;
}

/**
 * Runs one target's planned steps in order. It owns everything a step must not have to think
 * about: the abort signal (checked before and after every step, and passed to it), the containers
 * a step starts (always removed, also when the build is interrupted), temporary output files
 * (removed unless the build completes), the build log and mapping failures to `StepError`.
 */
export class BuildRunner {
  private readonly outputs: Partial<StepOutputs> = {};
  private readonly tail = new LogTail(40);
  private readonly engine: TrackedEngine;
  private readonly tempFiles = new Set<string>();
  private readonly controller = new AbortController();
  private log: BuildLog | undefined;
  private lastLine = '';
  /** When the running step began (Date.now()): its heartbeat, its duration, the times on Dockerfile steps in the log. */
  private stepBegan = Date.now();
  private readonly started = Date.now();
  private readonly unsubscribe: () => void;
  /** Set by the UI (terminal renderer) to show the running step's latest line. */
  onOutput: ((line: string) => void) | undefined;

  constructor(
    readonly prepared: PreparedBuild,
    readonly steps: readonly Step[],
    private readonly opts: RunnerOptions,
  ) {
    this.engine = new TrackedEngine(opts.engine);
    const outer = opts.signal;
    const onAbort = () => {
      this.controller.abort(outer?.reason);
      // Removing the containers ends whatever a step is waiting for inside them.
      void this.engine.removeContainers();
    };
    if (outer?.aborted) onAbort();
    outer?.addEventListener('abort', onAbort, { once: true });
    this.unsubscribe = () => outer?.removeEventListener('abort', onAbort);
  }

  get target(): string {
    return this.prepared.plan.target;
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  private write(raw: string): void {
    for (const line of raw.split('\n')) {
      if (!line.trim()) continue;
      // In the log file, each Dockerfile step says when it began within its pipeline step: the
      // differences are what each stage of the image took.
      this.log?.write(DOCKER_STEP.test(line) ? `[${formatElapsed(Date.now() - this.stepBegan)}] ${line}` : line);
      this.tail.write(`${line}\n`);
      this.lastLine = line;
      this.opts.onLog?.(line);
      this.onOutput?.(line);
      if (DOCKER_STEP.test(line)) this.opts.onProgress?.(line.slice(0, 160));
    }
  }

  private interrupted(): InterruptedError {
    return new InterruptedError(this.target);
  }

  /** Open the build log (exclusively: a second build of the same target is refused). */
  async open(): Promise<void> {
    if (this.log) return;
    this.log = await BuildLog.open(this.prepared.plan.output.log, this.target);
    this.write(`${this.prepared.plan.target} (${this.prepared.plan.inputsHash})`);
  }

  /** The typed output of a step that has run; a programming error if it has not. */
  private output<N extends StepName>(name: N): StepOutputs[N] {
    if (!(name in this.outputs)) throw new Error(`step '${name}' has not run, but a later step needs its output`);
    return this.outputs[name] as StepOutputs[N];
  }

  private context(step: Step): StepContext {
    return {
      prepared: this.prepared,
      engine: this.engine,
      env: this.opts,
      signal: this.controller.signal,
      log: (line) => this.write(line),
      output: (name) => this.output(name),
      tempFile: (file) => {
        this.tempFiles.add(file);
        return file;
      },
      keepFile: (file) => void this.tempFiles.delete(file),
      startedAt: this.started,
      step: step.name,
    };
  }

  /**
   * Run one step: abort checks around it, a heartbeat while it runs, failures as `StepError`.
   * Returns the step's summary and how long it took.
   */
  async execute(step: Step): Promise<{ summary: string; elapsedMs: number }> {
    if (this.controller.signal.aborted) throw this.interrupted();
    await this.open();
    this.write(`== ${step.name}`);
    this.opts.onProgress?.(`${step.name}: ${step.title}`);
    this.stepBegan = Date.now();
    const heartbeat = setInterval(() => {
      this.opts.onProgress?.(`${step.name}: ${HEARTBEAT_WORDS} ${formatElapsed(Date.now() - this.stepBegan)}; last: ${this.lastLine.slice(0, 120)}`);
    }, this.opts.heartbeatMs ?? 60_000);
    heartbeat.unref?.();
    try {
      const { value, summary } = await step.run(this.context(step), this.controller.signal);
      (this.outputs as Record<string, unknown>)[step.name] = value;
      const elapsedMs = Date.now() - this.stepBegan;
      this.write(`== ${step.name} done in ${formatElapsed(elapsedMs)}`);
      this.log?.check();
      return { summary, elapsedMs };
    } catch (err) {
      if (this.controller.signal.aborted) throw this.interrupted();
      if (err instanceof StepError || err instanceof InterruptedError) throw err;
      const message = (err as Error).message ?? String(err);
      this.write(`!! ${step.name} failed: ${message}`);
      throw new StepError(step.name, message, { logTail: this.tail.get(), logPath: this.prepared.plan.output.log }, { cause: err });
    } finally {
      clearInterval(heartbeat);
    }
  }

  /** What the last step produced: the build's result. */
  result(): StepOutputs['write-manifest'] {
    return this.output('write-manifest');
  }

  /** Run every step in order (the API's path without a renderer, and the tests'). */
  async runAll(): Promise<StepOutputs['write-manifest']> {
    try {
      for (const step of this.steps) await this.execute(step);
      return this.result();
    } finally {
      await this.finish();
    }
  }

  /**
   * Always called last: removes every container the steps created and, unless the build
   * completed, every temporary output file; closes the log. Safe to call twice.
   */
  async finish(): Promise<void> {
    this.unsubscribe();
    await this.engine.removeContainers();
    await Promise.all([...this.tempFiles].map((f) => removeQuietly(f)));
    this.tempFiles.clear();
    if (this.log) {
      if (this.controller.signal.aborted) this.log.write('interrupted: containers removed, no layer written');
      await this.log.close();
    }
  }
}
