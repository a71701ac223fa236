// Page decompression for Parquet logs, by the codec ids of parquet.thrift: moe-prof's own reader
// (parquet-routes.ts) and hyparquet (which has only snappy built in) use the same functions.
// gzip through Node's zlib, snappy hyparquet's, zstd through zstd's C library as WebAssembly
// (Node 20's zlib has none): 3x fzstd's speed here (20 MB of JSONL: 34 vs 96-140 ms), fzstd kept
// for a page the WebAssembly one refuses (it then says why). Loaded only for a compressed file.
import { gunzipSync } from "node:zlib";
import { decompress as fzstdDecompress } from "fzstd";
import { snappyUncompress } from "hyparquet";
import { zstdModule } from "../zstd-wasm.js";

const zstd = await zstdModule();

function zstdDecompress(data: Uint8Array, size: number): Uint8Array {
  try {
    // the size from the page header, for a frame that does not record its own
    return zstd.decompress(data, { defaultHeapSize: size });
  } catch {
    return fzstdDecompress(data);
  }
}

/** parquet.thrift CompressionCodec ids of the codecs read here. */
export const CODEC_IDS = { UNCOMPRESSED: 0, SNAPPY: 1, GZIP: 2, ZSTD: 6 } as const;

/** Decompresses one page to exactly `size` bytes; throws when the data does not give that. */
export function decompressPage(codec: number, data: Uint8Array, size: number): Uint8Array {
  let out: Uint8Array;
  switch (codec) {
    case CODEC_IDS.UNCOMPRESSED:
      out = data;
      break;
    case CODEC_IDS.GZIP:
      out = gunzipSync(data);
      break;
    case CODEC_IDS.ZSTD:
      out = zstdDecompress(data, size);
      break;
    case CODEC_IDS.SNAPPY:
      out = new Uint8Array(size);
      snappyUncompress(data, out);
      break;
    default:
      throw new Error(`compression codec ${codec} is not read`);
  }
  if (out.length !== size) throw new Error(`a page decompressed to ${out.length} bytes, its header says ${size}`);
  return out;
}

/** The same, in hyparquet's form (its `compressors` option). */
export const HYPARQUET_COMPRESSORS = {
  GZIP: (input: Uint8Array, size: number) => decompressPage(CODEC_IDS.GZIP, input, size),
  ZSTD: (input: Uint8Array, size: number) => decompressPage(CODEC_IDS.ZSTD, input, size),
};
