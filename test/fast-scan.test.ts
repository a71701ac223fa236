// The fast path of the scan (src/routes/fast-scan/: route-scan.c via fast-row.ts) must change nothing
// but speed: on valid and on broken logs, the scan with it and without it (JSON.parse + the check
// + zod for every line) must give the same problems (line, field, message), counts, requests and
// the same rows in the same order. Logs are fuzzed: random mutations of valid lines (numbers,
// escapes, whitespace, field order, unicode, NaN, huge integers, duplicate and extra keys,
// truncation, bad bytes, moved and repeated lines), read in small chunks to cross chunk edges.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { scanRoutesFile, type ScanMode } from "../src/routes/scan.js";
import { analyseRoutesFile, analyseInParallel } from "../src/log-scan/analyse-routes.js";
import type { CheckedRoute } from "../src/routes/route-check.js";
import { ROOT, tempDir } from "./helpers.js";
import { mulberry32 } from "./brute-force.js";

/** Python's '%.9g' of a float32, as the capture's writer prints weights. */
function fmt9g(x: number): string {
  const f = Math.fround(x);
  if (f === 0) return "0";
  const e = Math.floor(Math.log10(Math.abs(f)));
  if (e < -4 || e >= 9) {
    const [m, ex] = f.toExponential(8).split("e") as [string, string];
    const mant = m.includes(".") ? m.replace(/0+$/, "").replace(/\.$/, "") : m;
    const n = Number(ex);
    return `${mant}e${n < 0 ? "-" : "+"}${String(Math.abs(n)).padStart(2, "0")}`;
  }
  const s = f.toPrecision(9);
  return s.includes(".") ? s.replace(/0+$/, "").replace(/\.$/, "") : s;
}

interface BaseLog {
  lines: string[];
  k: number;
}

/** A valid log: requests of a few tokens in capture order (a token's layers together), some
 * lines in other key orders or with json.dumps-style spaces. */
function baseLog(r: () => number): BaseLog {
  const k = 1 + Math.floor(r() * 4);
  const E = k + 2 + Math.floor(r() * 10);
  const layers = r() < 0.5 ? [0, 1, 2] : [3, 0, 7];
  const meta: Record<string, unknown> = {
    type: "meta",
    model_id: "fuzz",
    vllm_version: "0.15.1",
    torch_version: "2.9.1",
    device: "cpu",
    seed: 1,
    layers_logged: layers,
    top_k: k,
  };
  if (r() < 0.7) meta.num_experts = E;
  const lines = [JSON.stringify(meta)];
  const reqs = ["0", "1", r() < 0.5 ? "chat-7" : "é😀", "12"];
  for (let t = 0; t < 4; t++) {
    for (const q of reqs) {
      for (const l of layers) {
        const ids: number[] = [];
        while (ids.length < k) {
          const e = Math.floor(r() * E);
          if (!ids.includes(e)) ids.push(e);
        }
        const ws = ids.map(() => fmt9g(r() < 0.05 ? r() * 1e-5 : r()));
        const parts = [
          `"type":"route"`,
          `"req_id":${JSON.stringify(q)}`,
          `"token_idx":${t}`,
          `"layer":${l}`,
          `"topk_ids":[${ids.join(",")}]`,
          `"topk_weights":[${ws.join(",")}]`,
          `"phase":"${t < 2 ? "prefill" : "decode"}"`,
          `"token_id":${Math.floor(r() * 151936)}`,
          `"step":${t}`,
        ];
        if (r() < 0.2) parts.sort(() => r() - 0.5);
        const spaced = r() < 0.15;
        lines.push(`{${parts.join(spaced ? ", " : ",")}}`.replace(/":/g, spaced ? '": ' : '":'));
      }
    }
  }
  return { lines, k };
}

const pick = <T>(r: () => number, xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;

const NUMBERS = [
  "-1",
  "1.0",
  "1e2",
  "1E0",
  "01",
  "00",
  "-0",
  "0.0",
  "12345678901234567890",
  "9007199254740993",
  "123456789012345",
  "1234567890123456",
  '"5"',
  "null",
  "true",
  "NaN",
  "Infinity",
  "-Infinity",
  "1e400",
  "5e-324",
  "2",
  "59",
  "60",
  "64",
  "65535",
  "65536",
  "0.5",
  "1.",
  ".5",
  "+1",
  "0x10",
  "1_0",
];
const WEIGHTS = [
  "1",
  "1.0",
  "0",
  "0.0",
  "-0",
  "-0.0",
  "0e5",
  "1e-400",
  "5e-324",
  "1.0000001",
  "0.1e1",
  "1e0",
  "1E+0",
  "0.3333333333333333333",
  "0.30000000000000004",
  "2",
  "1e23",
  "1e-23",
  "0.12345678901234567",
  "123456789012345e-15",
  "1234567890123456e-16",
  "NaN",
  "Infinity",
  "-1e-9",
  ".5",
  "1.",
  "0.5e",
  "0.5e+",
  "9.99999975e-06",
  "1.00000001",
];
const EXTRA = [
  `"x":1`,
  `"x":"y"`,
  `"x":true`,
  `"x":null`,
  `"x":false`,
  `"x":[1,2]`,
  `"x":{"a":1}`,
  `"x":"a\\"b"`,
  `"x":-1.5e-3`,
  `"x":01`,
  `"x":tru`,
  `"x":"\t"`,
  `"x":1.`,
  `"x":-`,
  `"__proto__":1`,
  `"type":"route"`,
  `"layer":0`,
  `"step":1`,
  `"typ\\u0065":"route"`,
  `"req_id":"0"`,
  `"é":1`,
  `"":0`,
];

/** One random change to a line (a string; bytes not valid UTF-8 come later). */
function mutateLine(r: () => number, line: string, k: number): string {
  const choice = Math.floor(r() * 16);
  const numRe = /(?<=[:[,]\s?)-?\d+(\.\d+)?([eE][+-]?\d+)?/g;
  switch (choice) {
    case 0: {
      // a number (id, index, layer, step, token_id, weight) replaced
      const ms = [...line.matchAll(numRe)];
      if (!ms.length) return line;
      const m = pick(r, ms);
      const inWeights =
        line.lastIndexOf("topk_weights", m.index) > line.lastIndexOf("topk_ids", m.index) &&
        line.lastIndexOf("]", m.index) < line.lastIndexOf("topk_weights", m.index);
      const v = inWeights && r() < 0.7 ? pick(r, WEIGHTS) : pick(r, NUMBERS);
      return line.slice(0, m.index) + v + line.slice(m.index + m[0].length);
    }
    case 1: {
      // whitespace somewhere (between tokens or inside one)
      const i = Math.floor(r() * (line.length + 1));
      return line.slice(0, i) + pick(r, [" ", "\t", "\r", "  ", "\u00a0", "\f", "\v"]) + line.slice(i);
    }
    case 2: {
      // req_id with an escape or unicode
      return line.replace(
        /"req_id":\s?"[^"]*"/,
        `"req_id":${pick(r, ['"\\u0030"', '"0\\"', '"a\\\\b"', '"\\n"', '"é"', '"😀"', '"\\ud83d\\ude00"', '""', '"0 "', "0", "null", '"\u0001"', '"\u007f"'])}`,
      );
    }
    case 3: {
      // an extra key, at the start, middle or end
      const x = pick(r, EXTRA);
      const where = r();
      if (where < 0.3) return line.replace("{", `{${x},`);
      if (where < 0.6) return line.replace(/,"layer"/, `,${x},"layer"`);
      return line.replace(/}\s*$/, `,${x}}`);
    }
    case 4: {
      // a required key dropped
      const key = pick(r, ["type", "req_id", "token_idx", "layer", "topk_ids", "topk_weights"]);
      return line.replace(new RegExp(`"${key}":\\s?("[^"]*"|\\[[^\\]]*\\]|[^,}]*),?`), "").replace(",}", "}");
    }
    case 5: {
      // an optional key's value changed or dropped
      return line.replace(
        /"phase":\s?"[a-z]*"/,
        pick(r, [
          '"phase":"PREFILL"',
          '"phase":"prefill "',
          '"phase":null',
          '"phase":"decode"',
          '"phase":"prefil"',
          '"phase":1',
          "",
        ]).replace(/^$/, '"phase2":0'),
      );
    }
    case 6: {
      // type changed
      return line.replace(
        /"type":\s?"route"/,
        `"type":${pick(r, ['"meta"', '"Route"', '"route "', '"rout"', '"routes"', "null", '"\\u0072oute"'])}`,
      );
    }
    case 7: {
      // truncated, or a byte removed or inserted
      const i = Math.floor(r() * line.length);
      if (r() < 0.4) return line.slice(0, i);
      if (r() < 0.5) return line.slice(0, i) + line.slice(i + 1);
      return line.slice(0, i) + pick(r, ["{", "}", "[", "]", ",", ":", '"', "\\", "0", "a", "-", "."]) + line.slice(i);
    }
    case 8: {
      // trailing or leading garbage / whitespace
      return pick(r, [
        `${line} `,
        `${line}x`,
        `${line}}`,
        `${line},`,
        ` ${line}`,
        `\ufeff${line}`,
        `${line}\r`,
        `[${line}]`,
        `${line}\t\r `,
        "",
        " ",
        "null",
        "[]",
        "{}",
      ]);
    }
    case 9: {
      // ids: repeated, too many, too few, empty, nested
      return line.replace(/"topk_ids":\s?\[([^\]]*)\]/, (_m, ids: string) => {
        const xs = ids.split(",");
        const v = pick(r, [
          [...xs, xs[0]],
          xs.slice(1),
          [xs[0], ...xs.slice(1, -1), xs[0]],
          [],
          [`[${xs[0]}]`],
          xs.map((x) => ` ${x} `),
          xs.reverse(),
        ]);
        return `"topk_ids":[${v.join(",")}]`;
      });
    }
    case 10: {
      // weights: count or form
      return line.replace(/"topk_weights":\s?\[([^\]]*)\]/, (_m, ws: string) => {
        const xs = ws.split(",");
        const one = (w: string) => xs.map((x, i) => (i === xs.length - 1 ? w : x));
        const v = pick(r, [
          [...xs, "0.1"],
          xs.slice(1),
          [],
          xs.map((x) => ` ${x}`),
          xs.map(() => "0.25"),
          xs.map(() => "1"),
          xs.map(() => "0"),
          one(pick(r, WEIGHTS)),
          one(pick(r, WEIGHTS)),
          one(pick(r, ["1.5", "2", "1.0000001", "1e1", "-0.5"])),
        ]);
        return `"topk_weights":[${v.join(",")}]`;
      });
    }
    case 11: {
      // a key repeated (same or other value)
      return line.replace(
        /}\s*$/,
        pick(r, [
          ',"layer":0}',
          ',"token_idx":0}',
          ',"topk_ids":[0]}',
          `,"type":"route"}`,
          ',"step":5}',
          ',"req_id":"zz"}',
        ]),
      );
    }
    case 12: {
      // field order shuffled
      const m = /^\{(.*)\}$/.exec(line);
      if (!m) return line;
      const parts = m[1]!.match(/"[^"]*":\s?(\[[^\]]*\]|"[^"]*"|[^,]*)/g) ?? [];
      parts.sort(() => r() - 0.5);
      return `{${parts.join(",")}}`;
    }
    case 13:
      // a number as a huge or precise form in an integer field
      return line.replace(
        /"token_idx":\s?\d+/,
        `"token_idx":${pick(r, ["999999999999999", "1000000000000000", "4294967296", "2147483648", "1e15", "0.0", "7.000"])}`,
      );
    case 14:
      // a layer not logged, or an expert id at or over the limit
      return line.replace(/"layer":\s?\d+/, `"layer":${pick(r, ["5", "8", "65536", "2", "1", "0"])}`);
    default:
      return line.replace(
        /"topk_ids":\s?\[(\d+)/,
        `"topk_ids":[${pick(r, ["60", "65535", "65536", "14", "11", String(k + 50)])}`,
      );
  }
}

/** A fuzzed log file: a valid log with a few lines mutated, moved, repeated or dropped, maybe a bad byte. */
function fuzzedLog(seed: number, dir: string): string {
  const r = mulberry32(seed);
  const { lines, k } = baseLog(r);
  const n = Math.floor(r() * 4);
  for (let i = 0; i < n; i++) {
    const at = 1 + Math.floor(r() * (lines.length - 1));
    const what = r();
    if (what < 0.75) lines[at] = mutateLine(r, lines[at]!, k);
    else if (what < 0.85)
      lines.splice(at, 0, lines[1 + Math.floor(r() * (lines.length - 1))]!); // a repeated row
    else if (what < 0.95)
      lines.splice(at, 1); // a missing row
    else {
      const [x] = lines.splice(at, 1); // a row moved (out of order)
      lines.splice(1 + Math.floor(r() * (lines.length - 1)), 0, x!);
    }
  }
  if (r() < 0.05) lines[0] = mutateLine(r, lines[0]!, k);
  let bytes = Buffer.from(lines.join("\n") + (r() < 0.9 ? "\n" : ""), "utf8");
  if (r() < 0.05) {
    const i = Math.floor(r() * bytes.length);
    bytes = Buffer.concat([bytes.subarray(0, i), Buffer.from([pick(r, [0xff, 0xc3, 0x80, 0xed])]), bytes.subarray(i)]);
  }
  const file = path.join(dir, `fuzz-${seed}.jsonl`);
  writeFileSync(file, bytes);
  return file;
}

const FIELDS = [
  "type",
  "req_id",
  "token_idx",
  "layer",
  "topk_ids",
  "topk_weights",
  "phase",
  "token_id",
  "step",
] as const;

/** Everything a scan reports, plus every row it handed on (the known fields, -0 kept apart from 0). */
async function scanAll(file: string, mode: ScanMode, fastPath: boolean, maxLineBytes: number): Promise<string> {
  const rows: string[] = [];
  const result = await scanRoutesFile(file, {
    mode,
    fastPath,
    maxLineBytes,
    onRow: (row: CheckedRoute, req, li) => {
      const o = row as unknown as Record<string, unknown>;
      rows.push(JSON.stringify([req, li, ...FIELDS.map((f) => o[f])], (_k, v) => (Object.is(v, -0) ? "-0" : v)));
    },
  });
  return JSON.stringify({ result, rows });
}

test("the fast scanner's module is built from the committed C source", () => {
  const dir = path.join(ROOT, "src/routes/fast-scan");
  const src = readFileSync(path.join(dir, "route-scan.c"));
  const want = readFileSync(path.join(dir, "route-scan.c.sha256"), "utf8").trim();
  assert.equal(
    createHash("sha256").update(src).digest("hex"),
    want,
    "route-scan.c changed: run scripts/build-wasm.sh and commit the .wasm and .sha256",
  );
});

test("the fast path takes every line of a capture-shaped log (JSON.parse sees only the meta line)", async () => {
  const dir = tempDir();
  const r = mulberry32(42);
  const { lines } = baseLog(r);
  const file = path.join(dir, "clean.jsonl");
  writeFileSync(file, lines.join("\n") + "\n");
  const parse = JSON.parse;
  let calls = 0;
  JSON.parse = ((text: string, reviver?: (this: unknown, key: string, value: unknown) => unknown) => {
    calls++;
    return parse(text, reviver);
  }) as typeof JSON.parse;
  try {
    const fast = await scanRoutesFile(file, { fastPath: true });
    assert.equal(fast.problemCount, 0);
    assert.equal(fast.rows, lines.length - 1);
  } finally {
    JSON.parse = parse;
  }
  assert.equal(calls, 1);
});

test("fuzz: the scan with and without the fast path agrees on mutated logs (every mode, chunk edges)", async () => {
  const dir = tempDir();
  let differing = 0;
  let broken = 0;
  for (let seed = 1; seed <= 400; seed++) {
    const file = fuzzedLog(seed, dir);
    const modes: ScanMode[] = ["first-error", "all-errors", "lenient"];
    const chunk = [256, 1024, 8 * 1024 * 1024][seed % 3]!;
    for (const mode of modes) {
      const slow = await scanAll(file, mode, false, chunk);
      const fast = await scanAll(file, mode, true, chunk);
      if (slow !== fast) differing++;
      assert.equal(fast, slow, `seed ${seed}, mode ${mode}, chunk ${chunk}: ${file}`);
      if (mode === "all-errors" && (JSON.parse(slow) as { result: { problemCount: number } }).result.problemCount > 0)
        broken++;
    }
  }
  assert.equal(differing, 0);
  // The fuzzing must actually produce broken logs, or it checks only the happy path.
  assert.ok(broken > 150, `only ${broken} of 400 fuzzed logs were invalid`);
});

test("fuzz: lines mutated one at a time, each log checked line by line in all-errors mode", async () => {
  const dir = tempDir();
  const r = mulberry32(7);
  const { lines, k } = baseLog(r);
  // One file with many independently mutated lines: every mutation kind many times.
  const mutated = lines.map((l, i) => (i === 0 || r() < 0.5 ? l : mutateLine(r, l, k)));
  const file = path.join(dir, "many.jsonl");
  writeFileSync(file, mutated.join("\n") + "\n");
  for (const mode of ["all-errors", "lenient"] as ScanMode[]) {
    assert.equal(await scanAll(file, mode, true, 8 * 1024 * 1024), await scanAll(file, mode, false, 8 * 1024 * 1024));
  }
});

test("hist's analysis (one thread and the parallel split) is the same with and without the fast path", async () => {
  const dir = tempDir();
  for (const seed of [3, 11, 19]) {
    const r = mulberry32(seed);
    const { lines } = baseLog(r);
    const file = path.join(dir, `a-${seed}.jsonl`);
    // enough rows for the parallel split to cut the file in two
    writeFileSync(
      file,
      [
        lines[0],
        ...Array.from({ length: 20 }, (_, rep) =>
          lines
            .slice(1)
            .map((l) => l.replace(/"token_idx":\s?(\d+)/, (_m, t: string) => `"token_idx":${Number(t) + 4 * rep}`)),
        ).flat(),
      ].join("\n") + "\n",
    );
    const env = process.env.MOE_PROF_FAST_SCAN;
    try {
      process.env.MOE_PROF_FAST_SCAN = "0";
      const slow = await analyseRoutesFile(file, { threads: 1 });
      const slowPar = await analyseInParallel(file, { threads: 2, parallelMinBytes: 1 });
      delete process.env.MOE_PROF_FAST_SCAN;
      const fast = await analyseRoutesFile(file, { threads: 1 });
      const fastPar = await analyseInParallel(file, { threads: 2, parallelMinBytes: 1 });
      assert.deepEqual(fast, slow);
      assert.deepEqual(fastPar, slowPar);
    } finally {
      if (env === undefined) delete process.env.MOE_PROF_FAST_SCAN;
      else process.env.MOE_PROF_FAST_SCAN = env;
    }
  }
});
