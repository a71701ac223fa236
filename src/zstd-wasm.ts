// zstd's own C library as WebAssembly (@bokuweb/zstd-wasm), started once per process: the Parquet
// writer compresses with it and the Parquet readers decompress with it. Once, because a second
// init() made the next export's pages undecodable (measured).
let zstdReady: Promise<typeof import("@bokuweb/zstd-wasm")> | null = null;

export function zstdModule(): Promise<typeof import("@bokuweb/zstd-wasm")> {
  zstdReady ??= import("@bokuweb/zstd-wasm").then(async (m) => {
    await m.init();
    return m;
  });
  return zstdReady;
}
