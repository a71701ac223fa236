// Page compression for the Parquet files moe-prof writes (`export --format parquet
// --compression`). zstd by default: on a synthetic 263 MB log it made the file ~6x smaller than
// uncompressed (README "Parquet logs" has the figures). Node 20's zlib has gzip but no zstd:
// @bokuweb/zstd-wasm (zstd's own C library as WebAssembly, shipped in the package) compresses.
// Snappy is not offered: Node has no snappy compressor, and zstd is both smaller and read by
// every Parquet reader that reads snappy.
import { gzipSync } from "node:zlib";
import { zstdModule } from "../zstd-wasm.js";

export const PARQUET_COMPRESSIONS = ["zstd", "gzip", "none"] as const;
export type ParquetCompression = (typeof PARQUET_COMPRESSIONS)[number];
export const DEFAULT_PARQUET_COMPRESSION: ParquetCompression = "zstd";
/** zstd's own default level: near its fastest, most of its ratio. */
const ZSTD_LEVEL = 3;

export interface PageCompressor {
  name: ParquetCompression;
  /** parquet.thrift CompressionCodec: UNCOMPRESSED 0, GZIP 2, ZSTD 6. */
  codec: number;
  compress(page: Uint8Array): Uint8Array;
}

export const UNCOMPRESSED: PageCompressor = { name: "none", codec: 0, compress: (p) => p };

/** The compressor of a codec name (zstd's WebAssembly is loaded and started here, once). */
export async function pageCompressor(name: ParquetCompression): Promise<PageCompressor> {
  if (name === "none") return UNCOMPRESSED;
  if (name === "gzip") return { name, codec: 2, compress: (p) => gzipSync(p) };
  const zstd = await zstdModule();
  return { name, codec: 6, compress: (p) => zstd.compress(p, ZSTD_LEVEL) };
}
