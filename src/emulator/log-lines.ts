/**
 * Lambda-style platform log lines (START / END / REPORT), as pure functions.
 * Durations are printed with two decimals, memory in whole MB.
 */

export function formatStartLine(requestId: string, version = '$LATEST'): string {
  return `START RequestId: ${requestId} Version: ${version}`;
}

export function formatEndLine(requestId: string): string {
  return `END RequestId: ${requestId}`;
}

export interface ReportLineInput {
  requestId: string;
  /** Invocation duration (dispatch to response), ms. */
  durationMs: number;
  /** Present on a cold start only. */
  initDurationMs?: number | undefined;
  /** Defaults to {@link billedDurationMs}(durationMs, initDurationMs). */
  billedDurationMs?: number | undefined;
  memorySizeMb: number;
  /** Measured by the caller (e.g. from cgroup stats or /proc); rounded up to whole MB. */
  maxMemoryUsedMb: number;
  /** Appended as `Status: <status>` when given (Lambda does so for timeouts and crashes). */
  status?: 'timeout' | 'error' | undefined;
}

/**
 * Billed duration: whole milliseconds, rounded up. Custom runtimes (`provided*`) are billed for
 * their Init phase too, so a cold start bills Init + Duration.
 */
export function billedDurationMs(durationMs: number, initDurationMs?: number): number {
  return Math.max(1, Math.ceil(durationMs + (initDurationMs ?? 0)));
}

export function formatReportLine(input: ReportLineInput): string {
  const parts = [`REPORT RequestId: ${input.requestId}`];
  if (input.initDurationMs !== undefined) parts.push(`Init Duration: ${ms(input.initDurationMs)} ms`);
  parts.push(`Duration: ${ms(input.durationMs)} ms`);
  parts.push(`Billed Duration: ${input.billedDurationMs ?? billedDurationMs(input.durationMs, input.initDurationMs)} ms`);
  parts.push(`Memory Size: ${Math.round(input.memorySizeMb)} MB`);
  parts.push(`Max Memory Used: ${Math.ceil(input.maxMemoryUsedMb)} MB`);
  if (input.status !== undefined) parts.push(`Status: ${input.status}`);
  return parts.join('\t');
}

function ms(value: number): string {
  return Math.max(0, value).toFixed(2);
}
