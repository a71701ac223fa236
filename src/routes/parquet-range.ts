// A range of row groups of a Parquet routes log, scanned for the parallel `hist` and `validate`
// as scan-rows.ts's scanRouteRange scans a byte range of a JSONL log: rows accepted into this
// part's coverage (and `onRow`), stopping at the first row that is not accepted without wording it
// (the caller then runs the sequential scan, which does).
import { readRoutesParquet, routesParquetLayout } from "./parquet-routes.js";
import { hyparquetForced } from "./parquet-read.js";
import { RouteAcceptor, type OnRow, type RangeScan } from "./scan-rows.js";
import type { ByteRange } from "./line-reader.js";
import type { RoutesMeta } from "./schema.js";

/** Row groups [range.start, range.end) of the file. */
export async function scanParquetRange(
  file: string,
  meta: RoutesMeta,
  range: ByteRange,
  onRow?: OnRow,
): Promise<RangeScan> {
  const acceptor = new RouteAcceptor(meta, onRow);
  let ok = true;
  let lines = 0;
  const read = await readRoutesParquet(
    file,
    {
      value(v, lineNo) {
        if (lineNo === 1) return; // the meta: the plan's, already checked
        lines++;
        if (acceptor.accept(v) !== "ok") ok = false;
      },
      get stopped() {
        return !ok;
      },
    },
    range,
  ).catch(() => null);
  if (read === null) ok = false;
  return { ok, rows: acceptor.rows, lines, acceptor };
}

/**
 * Row groups split into at most `parts` contiguous ranges of about equal rows, for a file of at
 * least `minRows` rows that parquet-routes.ts takes (and hyparquet is not forced); else null (one
 * thread reads it).
 */
export async function parquetGroupRanges(
  file: string,
  parts: number,
  minRows: number,
): Promise<{ meta: unknown; ranges: ByteRange[]; size: number } | null> {
  const layout = hyparquetForced() ? null : await routesParquetLayout(file);
  if (layout === null) return null;
  const total = layout.groupRows.reduce((a, b) => a + b, 0);
  if (total < minRows || layout.groupRows.length < 2) return null;
  const ranges: ByteRange[] = [];
  let start = 0;
  let done = 0;
  for (let g = 0; g < layout.groupRows.length; g++) {
    done += layout.groupRows[g]!;
    // close a part once it holds its share of the rows (the last part takes what is left)
    if (done >= (total * (ranges.length + 1)) / parts && ranges.length < parts - 1) {
      ranges.push({ start, end: g + 1 });
      start = g + 1;
    }
  }
  if (start < layout.groupRows.length) ranges.push({ start, end: layout.groupRows.length });
  return ranges.length < 2 ? null : { meta: layout.meta, ranges, size: layout.size };
}
