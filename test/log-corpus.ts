// Every routes log the tests know: the fixtures, and one generated log per rule a log can break
// (schema, whole-file rules, framing, encodings, limits, the old layout) plus unreadable paths.
// test/agreement.test.ts runs validate and hist over all of them.
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { FIXTURES, META, ROOT, goodLines, route, tempDir } from "./helpers.js";

export interface CorpusLog {
  name: string;
  file: string;
}

const withMeta = (patch: object) => JSON.stringify({ ...META, ...patch });
const rowWith = (patch: object) => JSON.stringify({ ...route("r0", 0, 0, [0, 1], [0.6, 0.4]), ...patch });

function replaced(i: number, text: string): string[] {
  const l = goodLines();
  l[i] = text;
  return l;
}

/** A log large enough for hist's two-thread path (> 32 MiB, num_experts declared), with an optional fault near the end. */
function bigLog(fault: "none" | "duplicate" | "missing"): string {
  const meta = JSON.stringify({ ...META, num_experts: 8 });
  const parts = [meta];
  const requests = 1700;
  const tokens = 80;
  for (let r = 0; r < requests; r++)
    for (let t = 0; t < tokens; t++)
      for (const layer of [0, 3]) {
        if (fault === "missing" && r === requests - 3 && t === 7 && layer === 3) continue;
        parts.push(
          `{"type":"route","req_id":"req-${r}","token_idx":${t},"layer":${layer},"topk_ids":[${(r + t) % 8},${(r + t + 1 + layer) % 8}],"topk_weights":[0.625,0.375],"phase":"${t < 20 ? "prefill" : "decode"}"}`,
        );
      }
  if (fault === "duplicate") parts.push(parts[parts.length - 4]!);
  return parts.join("\n") + "\n";
}

export function buildCorpus(): CorpusLog[] {
  const dir = tempDir();
  const out: CorpusLog[] = [];
  const add = (name: string, content: string | Buffer, fileName = `${name}.jsonl`): void => {
    const file = path.join(dir, fileName);
    writeFileSync(file, content);
    out.push({ name, file });
  };
  const lines = (name: string, l: string[], noFinalNewline = false) =>
    add(name, l.join("\n") + (noFinalNewline ? "" : "\n"));

  // valid ones
  for (const f of ["seed-schema.jsonl", "full-schema.jsonl", "seed-layout.jsonl"])
    out.push({ name: `fixture ${f}`, file: path.join(FIXTURES, f) });
  out.push({ name: "recorded H100 log", file: path.join(ROOT, "fixtures/recorded/hf-smoke-h100/moe_routes.jsonl") });
  lines("good", goodLines());
  lines("good without final newline", goodLines(), true);
  add("utf-8 BOM", Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(goodLines().join("\n") + "\n")]));
  add("big valid (two threads)", bigLog("none"));
  add("big with a duplicate at the end", bigLog("duplicate"));
  add("big with a missing row", bigLog("missing"));

  // framing and encodings
  add("empty", "");
  lines("meta only", [goodLines()[0]!]);
  lines("truncated last line", [...goodLines().slice(0, -1), goodLines().at(-1)!.slice(0, 30)], true);
  lines("blank line", replaced(3, ""));
  lines("not JSON", replaced(3, "{oops"));
  lines("array line", replaced(3, "[1,2]"));
  lines("number line", replaced(3, "42"));
  lines(
    "NaN",
    replaced(2, '{"type":"route","req_id":"r0","token_idx":1,"layer":0,"topk_ids":[0,1],"topk_weights":[NaN,0.4]}'),
  );
  const bad = Buffer.from(goodLines()[2]!.replace('"r0"', '"r\u00e9"'));
  bad[bad.indexOf(0xc3)] = 0xff;
  add(
    "invalid UTF-8",
    Buffer.concat([
      Buffer.from(goodLines().slice(0, 2).join("\n") + "\n"),
      bad,
      Buffer.from("\n" + goodLines().slice(3).join("\n") + "\n"),
    ]),
  );
  add("binary", Buffer.from([0x7f, 0x45, 0x4c, 0x46, 0, 1, 2, 0x0a, 0xff]));
  lines(
    "line over 8 MiB",
    replaced(4, JSON.stringify({ ...route("r0", 2, 0, [2, 3], [0.6, 0.4]), pad: "x".repeat(8.5 * 1024 * 1024) })),
  );
  add("partial name", goodLines().join("\n") + "\n", "moe_routes.jsonl.partial");

  // meta line
  const metaCases: [string, string][] = [
    ["meta not first", goodLines()[1]!],
    ["meta model_id", withMeta({ model_id: 5 })],
    ["meta seed fraction", withMeta({ seed: 1.5 })],
    ["meta seed 2^53+1", JSON.stringify(META).replace('"seed":0', '"seed":9007199254740993')],
    ["meta layers empty", withMeta({ layers_logged: [] })],
    ["meta layers repeat", withMeta({ layers_logged: [0, 0] })],
    ["meta layer negative", withMeta({ layers_logged: [0, -1] })],
    ["meta top_k 0", withMeta({ top_k: 0 })],
    ["meta top_k over limit", withMeta({ top_k: 257 })],
    ["meta top_k over num_experts", withMeta({ num_experts: 1 })],
    [
      "meta shape over limit",
      withMeta({ num_experts: 65536, layers_logged: Array.from({ length: 256 }, (_, i) => i) }),
    ],
    ["meta num_experts over 65536", withMeta({ num_experts: 70000 })],
    ["meta engine", withMeta({ engine: 3 })],
    ["meta device missing", JSON.stringify({ ...META, device: undefined })],
  ];
  for (const [name, meta] of metaCases) lines(name, replaced(0, meta));
  lines("second meta line", [...goodLines().slice(0, 3), JSON.stringify(META), ...goodLines().slice(3)]);

  // route rows
  const rowCases: [string, object][] = [
    ["row type", { type: "rout" }],
    ["row req_id", { req_id: 7 }],
    ["row token_idx negative", { token_idx: -1 }],
    ["row token_idx fraction", { token_idx: 1.5 }],
    ["row token_idx 2^54", { token_idx: 2 ** 54 }],
    ["row layer not logged", { layer: 1 }],
    ["row topk_ids short", { topk_ids: [1] }],
    ["row topk_ids repeat", { topk_ids: [1, 1] }],
    ["row topk_ids negative", { topk_ids: [1, -2] }],
    ["row topk_ids over 65535", { topk_ids: [1, 70000] }],
    ["row topk_ids string", { topk_ids: [1, "2"] }],
    ["row weight over 1", { topk_weights: [0.5, 1.5] }],
    ["row weights short", { topk_weights: [0.5] }],
    ["row phase", { phase: "decoding" }],
    ["row step negative", { step: -3 }],
    ["row token_id string", { token_id: "x" }],
    ["row req_id missing", { req_id: undefined }],
  ];
  for (const [name, patch] of rowCases) lines(name, replaced(1, rowWith(patch)));
  const declared = replaced(0, withMeta({ num_experts: 3 }));
  declared[1] = JSON.stringify(route("r0", 0, 0, [0, 3], [0.6, 0.4]));
  lines("row id over num_experts", declared);
  const wide = [withMeta({ layers_logged: Array.from({ length: 4096 }, (_, i) => i) })];
  for (let l = 0; l < 4096; l++) wide.push(JSON.stringify(route("r0", 0, l, l === 2 ? [300, 1] : [0, 1])));
  lines("row id over the undeclared layer x expert limit", wide);

  // whole-file rules
  const dup = goodLines();
  dup.splice(3, 0, dup[1]!);
  lines("duplicate row", dup);
  const missing = goodLines();
  missing.splice(7, 1);
  lines("missing row", missing);
  lines(
    "request missing from a layer",
    goodLines().filter((x) => !(x.includes('"r1"') && x.includes('"layer":0'))),
  );
  const seedLayout = readFileSync(path.join(FIXTURES, "seed-layout.jsonl"), "utf8");
  add(
    "seed layout with a row lost",
    seedLayout
      .split("\n")
      .filter((_, i) => i !== 8)
      .join("\n"),
  );
  const pairs = [
    JSON.stringify({ ...META, layers_logged: Array.from({ length: 4096 }, (_, i) => i), top_k: 1, num_experts: 4 }),
  ];
  for (let r = 0; r <= 1024; r++) pairs.push(JSON.stringify(route(`r${r}`, 0, 0, [0], [1])));
  lines("requests x layers over limit", pairs);

  // paths that are not readable logs
  out.push({ name: "missing file", file: path.join(dir, "nope.jsonl") });
  const sub = path.join(dir, "a-directory.jsonl");
  mkdirSync(sub);
  out.push({ name: "a directory", file: sub });
  const locked = path.join(dir, "unreadable.jsonl");
  writeFileSync(locked, goodLines().join("\n") + "\n");
  chmodSync(locked, 0o000);
  out.push({ name: "unreadable (root reads it anyway)", file: locked });
  return out;
}
