/** Errors a user can act on: the message names the bad thing and what to do. */
export class UserError extends Error {
  override name = 'UserError';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** A failure inside one named step of a build plan. */
export class StepError extends Error {
  override name = 'StepError';
  constructor(
    readonly step: string,
    message: string,
    readonly details: { logTail?: string[]; logPath?: string } = {},
    options?: { cause?: unknown },
  ) {
    super(`step '${step}' failed: ${message}`, options);
  }
}

/** The build was stopped by Ctrl-C or SIGTERM; its containers were removed and nothing was written. */
export class InterruptedError extends Error {
  override name = 'InterruptedError';
  constructor(readonly target: string) {
    super(`${target}: interrupted; containers removed, no layer written`);
  }
}

/** A file or directory the build must write cannot be written (full disk, read-only, not a directory...). */
export class OutputPathError extends UserError {
  override name = 'OutputPathError';
  constructor(
    readonly path: string,
    readonly code: string | undefined,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
