import { InterruptedError, OutputPathError, StepError, UserError } from '../errors.js';
import { ByteSizeError } from '../layer/size.js';
import { TOOL_NAME } from '../paths.js';
import { SourceSpecError } from '../sources/spec.js';

/** Errors that are the user's to fix (bad target, option, path or mirror): exit 2. */
const USER_ERRORS = [UserError, SourceSpecError, ByteSizeError] as const;

export function isUserError(err: unknown): boolean {
  return USER_ERRORS.some((k) => err instanceof k);
}

/** 130 interrupted; 2 bad input; 1 a failed step or anything else. */
export function exitStatusOf(err: unknown, aborted: boolean): number {
  if (aborted || err instanceof InterruptedError) return 130;
  if (err instanceof StepError) return 1;
  return isUserError(err) ? 2 : 1;
}

/** What stderr shows: one line for a user's mistake, the step and its log tail for a failed step. */
export function formatFailure(err: unknown, status: number, env: NodeJS.ProcessEnv = process.env): string {
  if (status === 130) return `${TOOL_NAME}: interrupted; containers removed, no layer written\n`;
  const e = err as Error;
  if (err instanceof StepError) {
    const lines = [`\n${TOOL_NAME}: ${err.message}`];
    // A full disk or an unwritable --out is said in one line; the build log adds nothing to it.
    if (!(err.cause instanceof OutputPathError)) {
      if (err.details.logTail?.length) lines.push(`--- last ${err.details.logTail.length} log lines ---`, ...err.details.logTail);
      if (err.details.logPath) lines.push(`full log: ${err.details.logPath}`);
    }
    return lines.join('\n') + '\n';
  }
  if (isUserError(err)) return `${TOOL_NAME}: ${e.message}\n`;
  // A bug, not a mistake: say so, and keep the stack one variable away.
  const detail = env['LRB_DEBUG'] ? `\n${e?.stack ?? ''}` : ' (an internal error: run again with LRB_DEBUG=1 for the stack trace, and report it)';
  return `${TOOL_NAME}: ${e?.message ?? String(err)}${detail}\n`;
}

/** The one JSON document `--json` prints when the run fails. */
export function failureJson(err: unknown, status: number, aborted: boolean) {
  const e = err as Error;
  const error: Record<string, unknown> = {
    kind: status === 130 ? 'interrupted' : err instanceof StepError ? 'step' : isUserError(err) ? 'input' : 'internal',
    message: status === 130 ? 'interrupted; containers removed, no layer written' : (e?.message ?? String(err)),
    exitStatus: status,
  };
  if (err instanceof StepError) {
    error['step'] = err.step;
    if (err.details.logPath) error['logPath'] = err.details.logPath;
    if (err.details.logTail) error['logTail'] = err.details.logTail;
  }
  if (err instanceof OutputPathError) error['path'] = err.path;
  if (!aborted && err instanceof StepError && err.cause instanceof OutputPathError) error['path'] = err.cause.path;
  return { error };
}
