// Problems found in an input file (a routes log, a prompts file, a dataset), worded and collected
// in one place: `FILE:LINE: field: what` (a Parquet log's rows: `FILE: row N: field: what`; the
// file as a whole: `FILE: what`). Commands that stop at the first problem throw problemError();
// the routes-log scan collects them in a Problems, which also knows when to stop reading.
import { UserError, EXIT_INVALID } from "./errors.js";

export interface Problem {
  /** 1-based line (a row with `row`); null: the file as a whole. */
  line: number | null;
  field: string | null;
  what: string;
  /** Parquet input: `line` is a row number, printed as "row N". */
  row?: true;
}

/** Where a problem found on line `line` is reported: Parquet input renumbers (parquet-read.ts). */
export type PlaceProblem = (line: number, field: string | null) => Omit<Problem, "what">;

export function formatProblem(file: string, p: Problem): string {
  const where = p.line === null ? file : p.row ? `${file}: row ${p.line}` : `${file}:${p.line}`;
  return p.field ? `${where}: ${p.field}: ${p.what}` : `${where}: ${p.what}`;
}

/** One problem as the error that refuses the file (exit 1). */
export function problemError(file: string, line: number | null, field: string | null, what: string): UserError {
  return new UserError(formatProblem(file, { line, field, what }), EXIT_INVALID);
}

export interface ProblemsOptions {
  /** Stop reading at the first problem (`validate`, `hist`); else keep going (--all-errors, --lenient). */
  stopAtFirst: boolean;
  /** Problems kept in full; the rest are only counted. */
  keep?: number;
  place?: PlaceProblem;
}

/** The problems of one file, as a scan finds them. */
export class Problems {
  /** The first `keep` problems. */
  readonly kept: Problem[] = [];
  /** All problems, kept or not. */
  count = 0;
  /** Lines rejected (each also a problem): what --lenient skipped. */
  badLines = 0;
  /** True once reading should stop (the first problem with stopAtFirst, or stop()). */
  stopped = false;
  private readonly keep: number;

  constructor(
    readonly file: string,
    private readonly opts: ProblemsOptions,
  ) {
    this.keep = opts.keep ?? 50;
  }

  /** A problem of the file (or of line `line`) that rejects no line of its own: a missing row, an empty file. */
  add(line: number | null, field: string | null, what: string): void {
    this.count++;
    if (this.kept.length < this.keep) {
      const at = line === null || !this.opts.place ? { line, field } : this.opts.place(line, field);
      this.kept.push({ ...at, what });
    }
    if (this.opts.stopAtFirst) this.stopped = true;
  }

  /** Line `line` is not accepted, for this reason. */
  rejectLine(line: number, field: string | null, what: string): void {
    this.badLines++;
    this.add(line, field, what);
  }

  /** Nothing more can be checked (no meta line, a limit crossed), whatever the mode. */
  stop(): void {
    this.stopped = true;
  }

  /** The kept problems, worded. */
  messages(): string[] {
    return this.kept.map((p) => formatProblem(this.file, p));
  }

  /** A problem worded as it would be kept (numbering applied), whether or not it was. */
  format(line: number, field: string | null, what: string): string {
    return formatProblem(this.file, { ...(this.opts.place ? this.opts.place(line, field) : { line, field }), what });
  }
}
