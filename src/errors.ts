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

/** What a file-system error code means, in words a user reads without looking it up. */
const ERRNO_WORDS: Record<string, string> = {
  EACCES: "permission denied",
  EPERM: "operation not permitted",
  ENOENT: "no such file or directory",
  EEXIST: "it already exists",
  ENOTDIR: "a part of the path is a file, not a directory",
  EISDIR: "it is a directory",
  ENOTEMPTY: "the directory is not empty",
  ENOSPC: "no space left on the device",
  EDQUOT: "disk quota exceeded",
  EROFS: "read-only file system",
  EIO: "input/output error",
  EMFILE: "too many open files",
  ENFILE: "too many open files on the system",
  ENAMETOOLONG: "the name is too long",
  ELOOP: "too many symbolic links",
  EBUSY: "busy",
  EXDEV: "on another file system",
  ETXTBSY: "a running program's file",
};

/** An error of node:fs in words, its code after them for searching: "permission denied (EACCES)". */
export function fsProblem(err: unknown): string {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  if (typeof code !== "string") return err instanceof Error ? err.message : String(err);
  const words = ERRNO_WORDS[code];
  return words ? `${words} (${code})` : code;
}
