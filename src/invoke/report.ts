/**
 * What `invoke` prints (pure): Lambda's platform lines around each invocation, the result
 * line, the exit status and the JSON document of `--json`.
 */
import { billedDurationMs, formatEndLine, formatReportLine, formatStartLine } from '../emulator/log-lines.js';
import type { InvocationOutcome, InvokeLayerResult } from './types.js';

export { formatEndLine, formatStartLine };

const MIB = 1024 * 1024;

/** Bytes → whole MB (MiB, as Lambda's Memory Size), rounded up; 0 stays 0. */
export function bytesToMb(bytes: number): number {
  return bytes <= 0 ? 0 : Math.ceil(bytes / MIB);
}

/** Lambda bills custom runtimes' init too: a cold start bills Init + Duration. */
export function billedMs(durationMs: number, initDurationMs: number | undefined): number {
  return billedDurationMs(durationMs, initDurationMs);
}

/**
 * The REPORT line. Timeouts and crashes (which reset the sandbox) add `Status`, crashes and
 * init errors also `Error Type`, as Lambda does; a handler error adds nothing.
 */
export function formatOutcomeReport(outcome: InvocationOutcome): string {
  const status = outcome.status === 'timeout' ? 'timeout' : outcome.status === 'crash' || outcome.status === 'init-error' ? 'error' : undefined;
  const line = formatReportLine({
    requestId: outcome.requestId,
    durationMs: outcome.durationMs,
    initDurationMs: outcome.initDurationMs,
    billedDurationMs: outcome.billedDurationMs,
    memorySizeMb: outcome.memorySizeMb,
    maxMemoryUsedMb: outcome.maxMemoryUsedMb,
    status,
  });
  return status === 'error' && outcome.errorType !== undefined ? `${line}\tError Type: ${outcome.errorType}` : line;
}

/** `<ISO time> <request id> Task timed out after 1.00 seconds` (Lambda's log line). */
export function formatTimeoutLine(requestId: string, timeoutMs: number, now: Date = new Date()): string {
  return `${now.toISOString()} ${requestId} Task timed out after ${(timeoutMs / 1000).toFixed(2)} seconds`;
}

/** `RequestId: … Error: Runtime exited with error: exit status 1` + the error type (Lambda's lines). */
export function formatCrashLines(outcome: Pick<InvocationOutcome, 'requestId' | 'errorMessage' | 'errorType'>): string[] {
  const message = outcome.errorMessage ?? `RequestId: ${outcome.requestId} Error: Runtime exited`;
  return [message, outcome.errorType ?? 'Runtime.ExitError'];
}

/** Lambda's INIT_REPORT for a failed init phase. */
export function formatInitErrorReport(initDurationMs: number | undefined, errorType: string): string {
  const parts = [];
  if (initDurationMs !== undefined) parts.push(`INIT_REPORT Init Duration: ${Math.max(0, initDurationMs).toFixed(2)} ms`);
  else parts.push('INIT_REPORT');
  parts.push('Phase: init', 'Status: error', `Error Type: ${errorType}`);
  return parts.join('\t');
}

/** How an init phase failed, as the sandbox reports it (see sandbox.ts `SandboxInit`). */
export type InitFailure =
  | { status: 'error'; error: { errorType: string; errorMessage: string; body: Buffer } }
  | { status: 'timeout'; initTimeoutMs: number }
  | { status: 'exited'; exit: { code: number | null; signal: string | null } };

/**
 * The error an event gets when no runtime could be started for it. `body` is the runtime's own
 * error JSON when it posted one (with its stack trace), else undefined (a generated one is used).
 */
export function describeInitFailure(init: InitFailure): { errorType: string; errorMessage: string; body: string | undefined } {
  switch (init.status) {
    case 'error': {
      const text = init.error.body.toString('utf8');
      let body: string | undefined;
      try {
        JSON.parse(text);
        body = text;
      } catch {
        body = undefined;
      }
      return { errorType: init.error.errorType, errorMessage: init.error.errorMessage, body };
    }
    case 'timeout':
      return {
        errorType: 'Sandbox.Timedout',
        errorMessage: `Init phase timed out after ${(init.initTimeoutMs / 1000).toFixed(2)} seconds`,
        body: undefined,
      };
    case 'exited': {
      const reason = init.exit.signal !== null ? `signal: ${init.exit.signal}` : `exit status ${init.exit.code ?? 'unknown'}`;
      return { errorType: 'Runtime.ExitError', errorMessage: `Runtime exited during init with error: ${reason}`, body: undefined };
    }
  }
}

/** The platform lines printed after an invocation ended (before them: START and the runtime's logs). */
export function closingLines(outcome: InvocationOutcome, timeoutMs: number, now?: Date): string[] {
  const lines: string[] = [];
  if (outcome.status === 'init-error') {
    lines.push(formatInitErrorReport(outcome.initDurationMs, outcome.errorType ?? 'Runtime.Unknown'));
    return lines;
  }
  if (outcome.status === 'timeout') lines.push(formatTimeoutLine(outcome.requestId, timeoutMs, now));
  if (outcome.status === 'crash') lines.push(...formatCrashLines(outcome));
  lines.push(formatEndLine(outcome.requestId), formatOutcomeReport(outcome));
  return lines;
}

/** The stdout line of one invocation: the body as is, ending with exactly one newline added if missing. */
export function resultLine(outcome: Pick<InvocationOutcome, 'body'>): string {
  return outcome.body.endsWith('\n') ? outcome.body : `${outcome.body}\n`;
}

export function exitCodeOf(outcomes: readonly InvocationOutcome[]): 0 | 1 {
  return outcomes.every((o) => o.status === 'success') ? 0 : 1;
}

/** The body as JSON when it is JSON, else the text. */
function bodyValue(body: string): unknown {
  try {
    return JSON.parse(body) as unknown;
  } catch {
    return body;
  }
}

/** The document `--json` prints on stdout. */
export function resultJson(result: InvokeLayerResult): Record<string, unknown> {
  return {
    runId: result.runId,
    layer: result.layer,
    layers: result.layers,
    sizeBudget: result.sizeBudget,
    platform: result.platform ?? null,
    image: result.image,
    functionName: result.functionName,
    exitCode: result.exitCode,
    invocations: result.invocations.map((o) => ({
      requestId: o.requestId,
      status: o.status,
      result: bodyValue(o.body),
      body: o.body,
      ...(o.errorType !== undefined ? { errorType: o.errorType } : {}),
      ...(o.errorMessage !== undefined ? { errorMessage: o.errorMessage } : {}),
      durationMs: round2(o.durationMs),
      billedDurationMs: o.billedDurationMs,
      ...(o.initDurationMs !== undefined ? { initDurationMs: round2(o.initDurationMs) } : {}),
      memorySizeMb: o.memorySizeMb,
      maxMemoryUsedMb: o.maxMemoryUsedMb,
      containerId: o.containerId,
      logs: o.logs,
    })),
  };
}

function round2(value: number): number {
  return Math.round(value * 100) / 100;
}
