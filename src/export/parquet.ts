// --format parquet: every route row as a Parquet file (req_id, token_idx, layer, topk_ids list,
// topk_weights list, phase, token_id, step; the meta line as key-value metadata "moe_prof.meta"),
// for DuckDB, polars, pandas, Spark. Rows are written while the log is scanned, one row group
// (65,536 rows) at a time, into a temp file beside the target that is renamed only when the log
// has been accepted: memory does not grow with the log. Weights are float64, the log's values
// exactly (the capture's own Parquet writer stores the router's float32).
import path from "node:path";
import { rm, rename, stat } from "node:fs/promises";
import type { RoutesMeta } from "../routes/schema.js";
import { hasWeights, noWeightsReason } from "../routes/weights.js";
import { ParquetRouteWriter, ROW_GROUP_ROWS } from "../artifacts/parquet-writer.js";
import type { CheckedRoute } from "../routes/route-check.js";
import {
  DEFAULT_PARQUET_COMPRESSION,
  PARQUET_COMPRESSIONS,
  pageCompressor,
  type ParquetCompression,
} from "../artifacts/parquet-compression.js";
import { envError } from "../errors.js";
import type { ExportFormat, ExportSink, ExportTarget } from "./format.js";

export const PARQUET_COLUMNS = [
  "req_id",
  "token_idx",
  "layer",
  "topk_ids",
  "topk_weights",
  "phase",
  "token_id",
  "step",
];

/** The file a log exports to: --out FILE.parquet, else <log stem>.parquet in the output directory. */
export function parquetTarget(logFile: string, out: string | undefined): ExportTarget {
  if (out !== undefined && out.endsWith(".parquet"))
    return { dir: path.dirname(path.resolve(out)), name: path.basename(out) };
  const stem = path.basename(logFile).replace(/\.(jsonl|parquet)$/, "");
  return { dir: out ?? path.dirname(path.resolve(logFile)), name: `${stem}.parquet` };
}

export const parquetFormat: ExportFormat = {
  name: "parquet",
  description:
    "<log>.parquet (or --out FILE.parquet): one row per route line, topk_ids/topk_weights as lists, the meta line as key-value metadata",
  target: parquetTarget,
  takes: ["compression"],
  async begin(_file: string, target: ExportTarget | undefined, opts): Promise<ExportSink> {
    if (!target) throw new Error("parquet export needs its target before the scan");
    const name = opts.compression ?? DEFAULT_PARQUET_COMPRESSION;
    if (!(PARQUET_COMPRESSIONS as readonly string[]).includes(name))
      throw envError(`--compression: unknown "${name}" (expected ${PARQUET_COMPRESSIONS.join(", ")})`);
    const compressor = await pageCompressor(name as ParquetCompression);
    const final = path.join(target.dir, target.name);
    const tmp = path.join(target.dir, `.${target.name}.${process.pid}.${Date.now()}.tmp`);
    let writer: ParquetRouteWriter | null = null;
    let done = false;
    return {
      onMeta(meta: RoutesMeta) {
        // The Parquet layout's topk_weights column is required (readers expect top_k per row).
        if (!hasWeights(meta))
          throw envError(`parquet export: ${noWeightsReason(meta)}; its topk_weights column cannot be filled`);
        writer = new ParquetRouteWriter(tmp, meta.top_k, JSON.stringify(meta), ROW_GROUP_ROWS, compressor);
      },
      onRow(row) {
        if (!withWeights(row)) throw new Error("parquet export: a row without topk_weights");
        writer!.add(row);
      },
      async finish(read) {
        const w = writer;
        if (w === null) throw new Error("parquet export: no meta line");
        w.finish();
        await rename(tmp, final);
        done = true;
        const { size } = await stat(final);
        return {
          files: [
            { file: target.name, what: `${read.rows} route rows (${PARQUET_COLUMNS.join(", ")}), ${size} bytes` },
          ],
          details: {
            columns: PARQUET_COLUMNS,
            row_group_rows: ROW_GROUP_ROWS,
            meta_key: "moe_prof.meta",
            weights: "float64",
            compression: compressor.name,
            num_rows: read.rows,
          },
          notes: [],
        };
      },
      async dispose() {
        if (done) return;
        writer?.abandon();
        await rm(tmp, { force: true });
      },
    };
  },
};

/** A row that carries topk_weights (every row of a log whose meta line does not say weights_logged: false). */
function withWeights(row: CheckedRoute): row is CheckedRoute & { topk_weights: number[] } {
  return row.topk_weights !== undefined;
}
