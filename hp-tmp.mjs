import { asyncBufferFromFile, parquetMetadataAsync, parquetReadObjects, parquetRead } from "hyparquet";
const file = await asyncBufferFromFile(process.argv[2]);
const md = await parquetMetadataAsync(file);
console.log("rows", md.num_rows, "groups", md.row_groups.length, md.key_value_metadata);
let t = performance.now(); let n = 0;
let start = 0;
for (const rg of md.row_groups) {
  const end = start + Number(rg.num_rows);
  const rows = await parquetReadObjects({ file, metadata: md, rowStart: start, rowEnd: end });
  n += rows.length; start = end;
  if (n === rows.length) console.log(rows[0]);
}
console.log("objects", n, (performance.now() - t).toFixed(0), "ms");
t = performance.now(); n = 0;
await parquetRead({ file, metadata: md, onChunk(c) { n += c.rowEnd - c.rowStart; } });
console.log("chunks", n, (performance.now() - t).toFixed(0), "ms");
