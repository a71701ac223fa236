// `moe-prof export <log> --format eplb|r3`: the routes in the formats other tools read.
// The format modules live in src/export (registry.ts lists them); this wires one to the log.
import path from "node:path";
import { scanProgress } from "../scan-progress.js";
import { logName } from "../../routes/log-source.js";
import { reportSkipped, sourceOf } from "../../routes/read-log.js";
import { readRoutesLogSet } from "../../routes/read-log-set.js";
import { logSetOf, outAnchor, setWhere, type LogInput } from "../../routes/log-set.js";
import { EXPORT_FORMATS, findFormat } from "../../export/registry.js";
import type { ExportResult } from "../../export/format.js";
import {
  prepareOutDir,
  writeOutputs,
  toJson,
  asWriteError,
  orList,
  jsonOutput,
  readOptions,
} from "../command-output.js";
import { envError } from "../../errors.js";

export const EXPORT_SCHEMA = "moe-prof.export/1";
export const manifestName = (format: string) => `export_${format}.json`;

interface ExportOptions {
  /** --layers 0,5-7: analyse only these (validation still covers all). */
  layers?: string;
  format?: string;
  out?: string;
  json?: boolean;
  pretty?: boolean;
  lenient?: boolean;
  compression?: string;
}

export interface ExportManifest extends ExportResult {
  schema: string;
  format: string;
  source: ReturnType<typeof sourceOf>;
  model_id: string;
  rows: number;
  requests: number;
}

/** Reads (validating) the log through the format's sink, writes its files and the manifest. */
export async function runExport(input: LogInput, opts: ExportOptions): Promise<ExportManifest> {
  const set = logSetOf(input);
  const file = setWhere(set);
  // Where a set's outputs are named from: a log file in their common directory.
  const anchor = outAnchor(set);
  const format = findFormat(opts.format ?? "");
  if (!format)
    throw envError(`--format: unknown "${opts.format}" (expected ${orList(EXPORT_FORMATS.map((f) => f.name))})`);
  for (const [key, flag] of [["compression", "--compression"]] as const)
    if (opts[key] !== undefined && !format.takes?.includes(key))
      throw envError(`${flag}: only with --format parquet (not ${format.name})`);
  // A streaming format (parquet) writes during the scan: its directory is made first.
  const target = format.target?.(anchor, opts.out);
  if (target && set.files.some((f) => path.resolve(target.dir, target.name) === path.resolve(f.path))) {
    throw envError(
      `--out: ${path.join(target.dir, target.name)} is the log itself; name another file (--out FILE.parquet)`,
    );
  }
  if (target) await prepareOutDir(target.dir, anchor);
  const sink = await format.begin(file, target, { compression: opts.compression });
  try {
    const progress = scanProgress(`reading ${logName(file)}`);
    const read = await readRoutesLogSet(set, readOptions(opts, progress), sink).finally(() => progress?.end());
    reportSkipped(read, (t) => process.stderr.write(t));
    const outDir = target ? target.dir : await prepareOutDir(opts.out, anchor);
    let result: ExportResult;
    try {
      result = await sink.finish(read, outDir);
    } catch (e) {
      throw asWriteError(outDir, e);
    }
    const manifest: ExportManifest = {
      schema: EXPORT_SCHEMA,
      format: format.name,
      source: sourceOf(read),
      model_id: read.meta.model_id,
      rows: read.rows,
      requests: read.requests.length,
      ...result,
      notes: [...read.notes, ...result.notes],
    };
    await writeOutputs(outDir, [{ name: manifestName(format.name), data: toJson(manifest) }]);
    return manifest;
  } finally {
    await sink.dispose();
  }
}

export function exportSummaryText(m: ExportManifest): string {
  const files = m.files.map((f) => {
    const facts = [
      f.dtype,
      f.shape ? `[${f.shape.join(", ")}]` : null,
      f.entries !== undefined ? `${f.entries} arrays` : null,
    ].filter(Boolean);
    return facts.length ? `${f.file} (${facts.join(" ")})` : f.file;
  });
  return `${m.source.file}: ${m.rows} rows, ${m.requests} requests, ${m.model_id}: ${m.format} export ${files.join(", ")}\n`;
}

/** `moe-prof export`: what the command does once commander has parsed it (cli.ts). */
export async function exportCommand(files: string[], opts: ExportOptions): Promise<void> {
  const set = logSetOf(files);
  const file = outAnchor(set);
  const manifest = await runExport(set, opts);
  if (opts.json) process.stdout.write(jsonOutput(manifest, opts.pretty));
  else {
    for (const n of manifest.notes) process.stderr.write(`note: ${n}\n`);
    const target = findFormat(manifest.format)?.target?.(file, opts.out);
    const outDir = target ? target.dir : (opts.out ?? path.dirname(path.resolve(file)));
    process.stdout.write(
      exportSummaryText(manifest) +
        `wrote ${[...manifest.files.map((f) => path.join(outDir, f.file)), path.join(outDir, manifestName(manifest.format))].join(", ")}\n`,
    );
  }
}
