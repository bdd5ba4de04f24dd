/** Results of `invokeLayer()` (shared by the runner, the report formatting and the CLI). */
import type { SizeBudget } from './layers.js';

/**
 * How one invocation ended:
 * - `success`: the runtime posted a response;
 * - `error`: the runtime posted an invocation error (the handler failed; the sandbox lives on);
 * - `timeout`: the function ran past its timeout; the sandbox was reset;
 * - `crash`: the runtime process exited while serving the event; the sandbox was reset;
 * - `init-error`: no runtime could be started for the event (init error posted, or the runtime
 *   exited during init).
 */
export type InvocationStatus = 'success' | 'error' | 'timeout' | 'crash' | 'init-error';

export interface InvocationOutcome {
  /** The request id (for `init-error` too: the event had one, it was never handed out). */
  requestId: string;
  status: InvocationStatus;
  /** The response body, or the error JSON, as text (UTF-8). */
  body: string;
  contentType: string | undefined;
  errorType?: string | undefined;
  errorMessage?: string | undefined;
  /** Event handed to the runtime → response (ms); 0 when it was never handed out. */
  durationMs: number;
  billedDurationMs: number;
  /** Present when this invocation started a sandbox (a cold start): process start → first /next. */
  initDurationMs?: number | undefined;
  memorySizeMb: number;
  /** Peak memory of the sandbox so far (see README: an approximation), whole MB. */
  maxMemoryUsedMb: number;
  /** The container that served (or failed to serve) the event. */
  containerId: string;
  /** Whatever the runtime wrote to stdout/stderr while this invocation was running. */
  logs: string;
}

export interface InvokeLayerResult {
  /** Label value `io.lambda-runtime-builder.invoke` of every container this run created. */
  runId: string;
  /** The first layer zip given. */
  layer: string;
  /** Every layer zip, in the order extracted into /opt. */
  layers: string[];
  /** What the layers and the function add to Lambda's 250 MB (unzipped). */
  sizeBudget: SizeBudget;
  platform: string | undefined;
  image: string;
  functionName: string;
  invocations: InvocationOutcome[];
  /** 0 when every invocation succeeded, 1 when any failed (error, timeout, crash, init error). */
  exitCode: 0 | 1;
}
