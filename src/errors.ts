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
