// Every error a user can reach is a UserError: one line, an exit code, no stack trace. Problems at
// a place in an input file (`FILE:LINE: field: what`) are worded by problems.ts.

/** Exit codes, documented in README: 0 ok, 1 invalid input / failed check, 2 usage or environment. */
export const EXIT_OK = 0;
export const EXIT_INVALID = 1;
export const EXIT_ENV = 2;
/** `run` stopped by Ctrl-C / SIGTERM (128 + SIGINT, as shells report it). */
export const EXIT_INTERRUPTED = 130;

export class UserError extends Error {
  constructor(
    message: string,
    readonly exitCode: number = EXIT_INVALID,
  ) {
    super(message);
    this.name = "UserError";
  }
}

export function envError(message: string): UserError {
  return new UserError(message, EXIT_ENV);
}
