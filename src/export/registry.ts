// The export formats `moe-prof export --format` knows, one line each.
import type { ExportFormat } from "./format.js";
import { eplbFormat } from "./eplb.js";
import { r3Format } from "./r3.js";
import { parquetFormat } from "./parquet.js";

export const EXPORT_FORMATS: readonly ExportFormat[] = [eplbFormat, r3Format, parquetFormat];

export function findFormat(name: string): ExportFormat | undefined {
  return EXPORT_FORMATS.find((f) => f.name === name);
}
