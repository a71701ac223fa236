// The contract of one `moe-prof export --format` module. A format sees every accepted row during
// the one validating scan (through its sink), may keep whatever state it needs (bounded, or on
// disk), and writes its files atomically once the log is known to be valid. Adding a format
// (e.g. parquet) is one module implementing ExportFormat plus one line in registry.ts.
import type { RowSink, LogRead } from "../routes/read-log.js";

export interface ExportedFile {
  /** File name inside the output directory. */
  file: string;
  /** What it holds, for the manifest and --help. */
  what: string;
  /** .npy: dtype and shape. */
  dtype?: string;
  shape?: number[];
  /** Archives: entries written. */
  entries?: number;
}

export interface ExportResult {
  files: ExportedFile[];
  /** Format-specific facts for the manifest (layer order, key scheme, ...). */
  details: Record<string, unknown>;
  notes: string[];
}

export interface ExportSink extends RowSink {
  /** Called after the scan accepted the log: writes the files into outDir (each atomically). */
  finish(read: LogRead, outDir: string): Promise<ExportResult>;
  /** Drops temp state; called always, after finish or after an error. */
  dispose(): Promise<void>;
}

/** Where a format that writes while the log is scanned puts its file (the directory exists). */
export interface ExportTarget {
  dir: string;
  name: string;
}

/** Options only some formats take (each refuses what it does not take: export/index.ts). */
export interface FormatOptions {
  /** parquet: the page codec (parquet-compression.ts). */
  compression?: string;
}

export interface ExportFormat {
  /** The FormatOptions keys this format takes. */
  readonly takes?: readonly (keyof FormatOptions)[];
  readonly name: string;
  /** One line for --help. */
  readonly description: string;
  /**
   * Formats that stream into their file during the scan (parquet): where it goes, given the log
   * and --out (a directory, or the file itself). Others write everything in finish().
   */
  readonly target?: (logFile: string, out: string | undefined) => ExportTarget;
  begin(file: string, target: ExportTarget | undefined, opts: FormatOptions): ExportSink | Promise<ExportSink>;
}
