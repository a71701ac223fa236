// `moe-prof compare <a> <b>`: how does the routing of two logs differ (vLLM vs hf, two seeds,
// GPTQ vs bf16, two datasets)? Each log is read once, validated, counted per layer, and spilled to
// disk in request buckets; then the rows of each bucket are matched on (req_id, token_idx, layer).
import { stat } from "node:fs/promises";
import { scanProgress } from "../scan-progress.js";
import path from "node:path";
import { reportSkipped, type LogRead } from "../../routes/read-log.js";
import { readRoutesLogSet } from "../../routes/read-log-set.js";
import { logSetOf, outAnchor, setWhere, type LogInput, type LogSet } from "../../routes/log-set.js";
import { finishedSpill, RowSpill, MAX_PARTITIONS, type SpillRecords } from "../../routes/row-spill.js";
import type { RoutesMeta } from "../../routes/schema.js";
import { hasWeights, noTop1Reason } from "../../routes/weights.js";
import {
  AlignAccumulator,
  alignedResult,
  compareDistributions,
  COMPARE_SCHEMA,
  type AlignedComparison,
  type CompareReport,
  type LogSide,
  type RowColumns,
} from "../../analysis/compare.js";
import { LayerExpertCounts } from "../../analysis/layer-expert-counts.js";
import { prepareOutDir, writeOutputs, toJson, jsonOutput, readOptions } from "../command-output.js";
import { UserError, envError, fsProblem, EXIT_INVALID } from "../../errors.js";
import { STDIN, fileEncoding, logName } from "../../routes/log-source.js";

export const COMPARE_JSON = "compare.json";
export const COMPARE_PNG = "compare.png";
/**
 * Log bytes per request bucket. A bucket's rows of both logs are held while they are matched,
 * ~100 bytes per row (measured: 159 -> 223 MiB peak RSS from a 21 to a 76 MB log in one bucket).
 */
const BUCKET_LOG_BYTES = 32 * 1024 * 1024;

interface CompareOptions {
  /** --layers 0,5-7: analyse only these (validation still covers all). */
  layers?: string;
  out?: string;
  json?: boolean;
  pretty?: boolean;
  lenient?: boolean;
  /** Not an option: tests set it to force several request buckets on small logs. */
  bucketBytes?: number;
}

interface SideState {
  read: LogRead;
  counts: Float64Array[];
  spill: RowSpill;
}

/**
 * Reads one log: per-layer counts, and every row into `spill` bucket (shared request % buckets).
 * Spill record: f64 [token_idx, token_id or -1], i32 [shared request, layer, top-1 expert, topk_ids...].
 */
async function readSide(
  set: LogSet,
  opts: CompareOptions,
  buckets: number,
  shared: Map<string, number>,
  spills: RowSpill[],
): Promise<SideState> {
  let counts = new LayerExpertCounts(0, undefined);
  let k = 0;
  let spill: RowSpill | null = null;
  let toShared = new Int32Array(16).fill(-1);
  const f64 = new Float64Array(2);
  let i32 = new Int32Array(1);
  const file = setWhere(set);
  const progress = scanProgress(`reading ${logName(file)}`);
  const read = await readRoutesLogSet(set, readOptions(opts, progress), {
    onMeta(meta: RoutesMeta) {
      k = meta.top_k;
      counts = new LayerExpertCounts(meta.layers_logged.length, meta.num_experts);
      i32 = new Int32Array(3 + k);
      spill = new RowSpill(buckets, { f64: 2, i32: 3 + k });
      spills.push(spill);
    },
    onRow(row, req, li) {
      if (req >= toShared.length) {
        const w = new Int32Array(Math.max(req + 1, toShared.length * 2)).fill(-1);
        w.set(toShared);
        toShared = w;
      }
      let s = toShared[req]!;
      if (s === -1) {
        s = shared.get(row.req_id) ?? shared.size;
        shared.set(row.req_id, s);
        toShared[req] = s;
      }
      const ids = row.topk_ids;
      const ws = row.topk_weights;
      let best = ws === undefined ? -1 : 0;
      for (let j = 0; j < k; j++) {
        const e = ids[j]!;
        counts.add(li, e);
        if (ws !== undefined && ws[j]! > ws[best]!) best = j;
        i32[3 + j] = e;
      }
      f64[0] = row.token_idx;
      f64[1] = row.token_id ?? -1;
      i32[0] = s;
      i32[1] = row.layer;
      i32[2] = best < 0 ? -1 : ids[best]!;
      spill!.append(s % buckets, f64, i32);
    },
  }).finally(() => progress?.end());
  reportSkipped(read, (t) => process.stderr.write(t));
  const sp = finishedSpill(spill, file);
  return { read, counts: counts.counts, spill: sp };
}

function columns(rec: SpillRecords, spill: RowSpill, k: number, keep: Set<number>): RowColumns {
  const idx: number[] = [];
  for (let i = 0; i < rec.count; i++) if (keep.has(rec.i32[i * spill.w32 + spill.i32Base + 1]!)) idx.push(i);
  const n = idx.length;
  const c: RowColumns = {
    count: n,
    req: new Int32Array(n),
    layer: new Int32Array(n),
    token: new Float64Array(n),
    tokenId: new Float64Array(n),
    top1: new Int32Array(n),
    ids: new Int32Array(n * k),
  };
  idx.forEach((i, r) => {
    const o = i * spill.w32 + spill.i32Base;
    c.token[r] = rec.f64[i * spill.w64]!;
    c.tokenId[r] = rec.f64[i * spill.w64 + 1]!;
    c.req[r] = rec.i32[o]!;
    c.layer[r] = rec.i32[o + 1]!;
    c.top1[r] = rec.i32[o + 2]!;
    for (let j = 0; j < k; j++) c.ids[r * k + j] = rec.i32[o + 3 + j]!;
  });
  return c;
}

/**
 * The two logs' names for titles and JSON: their file names, or when those are the same (two runs'
 * moe_routes.jsonl) the shortest trailing paths that differ, e.g. runA/moe_routes.jsonl.
 */
export function distinctNames(a: string, b: string): [string, string] {
  const pa = path.resolve(logName(a)).split(path.sep);
  const pb = path.resolve(logName(b)).split(path.sep);
  if (a === STDIN || b === STDIN || pa.join("/") === pb.join("/"))
    return [logName(a), logName(b)].map((f) => path.basename(f)) as [string, string];
  for (let n = 1; n <= Math.max(pa.length, pb.length); n++) {
    const x = pa.slice(-n).join("/");
    const y = pb.slice(-n).join("/");
    if (x !== y) return [x, y];
  }
  return [pa.join("/"), pb.join("/")];
}

/**
 * Two logs of different models have nothing to compare: different top_k, or different declared
 * num_experts (an inferred one, the largest id seen + 1, may differ between logs of one model).
 */
function refuseDifferentModels(fileA: string, a: LogRead, fileB: string, b: LogRead): void {
  const kA = a.meta.top_k;
  const kB = b.meta.top_k;
  const eDiffer = a.numExpertsSource === "meta" && b.numExpertsSource === "meta" && a.numExperts !== b.numExperts;
  if (kA === kB && !eDiffer) return;
  throw new UserError(
    `${logName(fileA)} and ${logName(fileB)} route differently shaped models (${a.numExperts} vs ${b.numExperts} experts, top-${kA} vs top-${kB}; ${a.meta.model_id} vs ${b.meta.model_id}): compare takes two logs of one model`,
    EXIT_INVALID,
  );
}

function side(s: SideState, name: string): LogSide {
  const m = s.read.meta;
  return {
    file: name,
    model_id: m.model_id,
    engine: typeof m.engine === "string" ? m.engine : null,
    rows: s.read.rows,
    requests: s.read.requests.length,
    layers_logged: [...m.layers_logged],
    top_k: m.top_k,
    num_experts: s.read.numExperts,
  };
}

/**
 * A log's size once decompressed, for choosing the bucket count (memory only, never results):
 * compressed files are assumed 8x smaller (gzip made a synthetic 263 MB log 6.6x smaller, zstd -3 6.3x),
 * standard input as STDIN_BYTES_GUESS (64 buckets of 32 MiB).
 */
async function logBytesEstimate(file: string): Promise<number> {
  if (file === STDIN) return STDIN_BYTES_GUESS;
  const { size } = await stat(file);
  return fileEncoding(file) === "plain" ? size : 8 * size;
}
const STDIN_BYTES_GUESS = 2 * 1024 * 1024 * 1024;

export async function runCompare(inputA: LogInput, inputB: LogInput, opts: CompareOptions): Promise<CompareReport> {
  const setA = logSetOf(inputA);
  const setB = logSetOf(inputB);
  const fileA = setWhere(setA);
  const fileB = setWhere(setB);
  if (fileA === STDIN && fileB === STDIN) throw envError("compare: standard input (-) can be only one of the two logs");
  let size = 0;
  for (const set of [setA, setB]) {
    let sideBytes = 0;
    for (const { path: f } of set.files) {
      try {
        sideBytes += await logBytesEstimate(f);
      } catch (e) {
        throw envError(`${f}: cannot read: ${fsProblem(e)}`);
      }
    }
    size = Math.max(size, sideBytes);
  }
  const buckets = Math.min(MAX_PARTITIONS, Math.max(1, Math.ceil(size / (opts.bucketBytes ?? BUCKET_LOG_BYTES))));
  const shared = new Map<string, number>();
  const spills: RowSpill[] = [];
  try {
    const A = await readSide(setA, opts, buckets, shared, spills);
    const B = await readSide(setB, opts, buckets, shared, spills);
    refuseDifferentModels(fileA, A.read, fileB, B.read);
    // A set is named by its name ("N files in DIR"); two files by their shortest distinct paths.
    const [nameA, nameB] =
      setA.files.length === 1 && setB.files.length === 1 ? distinctNames(fileA, fileB) : [fileA, fileB];
    const notes = [...A.read.notes.map((n) => `a: ${n}`), ...B.read.notes.map((n) => `b: ${n}`)];
    const la = A.read.meta.layers_logged;
    const lb = B.read.meta.layers_logged;
    const layers = la.filter((l) => lb.includes(l)).sort((x, y) => x - y);
    if (layers.length === 0)
      throw new UserError(
        `${logName(fileA)} and ${logName(fileB)} have no logged layer in common (${la.join(",")} vs ${lb.join(",")})`,
        EXIT_INVALID,
      );
    for (const [name, side] of [
      ["a", A],
      ["b", B],
    ] as const)
      if (!hasWeights(side.read.meta))
        notes.push(`${name}: ${noTop1Reason(side.read.meta)}: top-1 agreement is not given (top-k overlap is)`);
    if (layers.length < Math.max(la.length, lb.length))
      notes.push(`only the ${layers.length} layers logged in both are compared`);
    const E = Math.max(A.read.numExperts, B.read.numExperts);
    if (A.read.numExperts !== B.read.numExperts)
      notes.push(
        `num_experts differs (${A.read.numExperts} vs ${B.read.numExperts}): shares are compared over ${E} experts`,
      );

    const perLayer = layers.map((layer) => ({
      layer,
      ...compareDistributions(A.counts[la.indexOf(layer)]!, B.counts[lb.indexOf(layer)]!, E),
    }));
    const sumA = new Float64Array(E);
    const sumB = new Float64Array(E);
    for (const layer of layers) {
      const ca = A.counts[la.indexOf(layer)]!;
      const cb = B.counts[lb.indexOf(layer)]!;
      for (let e = 0; e < E; e++) {
        sumA[e]! += ca[e] ?? 0;
        sumB[e]! += cb[e] ?? 0;
      }
    }

    let aligned: AlignedComparison | null = null;
    const k = A.read.meta.top_k;
    {
      // Same top_k here: refuseDifferentModels stopped logs of different shapes.
      const acc = new AlignAccumulator(k);
      const keep = new Set(layers);
      for (let p = 0; p < buckets; p++) {
        acc.joinBucket(columns(A.spill.readAll(p), A.spill, k, keep), columns(B.spill.readAll(p), B.spill, k, keep));
      }
      const reqIds: string[] = [];
      for (const [id, i] of shared) reqIds[i] = id;
      const result = alignedResult(acc, reqIds, layers);
      if (result.rows > 0) aligned = result;
      else
        notes.push(
          "no row of a has the same (req_id, token_idx, layer) as a row of b: rows are not compared one by one",
        );
    }
    return {
      schema: COMPARE_SCHEMA,
      a: side(A, nameA),
      b: side(B, nameB),
      layers,
      num_experts: E,
      distribution: { overall: compareDistributions(sumA, sumB, E), layers: perLayer },
      aligned,
      notes,
    };
  } finally {
    for (const s of spills) s.dispose();
  }
}

const pct = (x: number | null, d = 1) => (x === null ? "n/a" : `${(100 * x).toFixed(d)}%`);
const f3 = (x: number | null) => (x === null ? "n/a" : x.toFixed(3));

export function compareSummaryText(r: CompareReport): string {
  const d = r.distribution;
  const worst = d.layers.reduce((w, l) => ((l.js_distance ?? -1) > (w.js_distance ?? -1) ? l : w), d.layers[0]!);
  const mean = d.layers.reduce((s, l) => s + (l.js_distance ?? 0), 0) / d.layers.length;
  const lines = [
    `${r.a.file} (${r.a.rows} rows, ${r.a.model_id}) vs ${r.b.file} (${r.b.rows} rows, ${r.b.model_id}): ${r.layers.length} layers compared`,
    `Jensen-Shannon distance of expert shares: all layers ${f3(d.overall.js_distance)}, per layer mean ${f3(mean)}, largest ${f3(worst.js_distance)} (layer ${worst.layer})`,
    `moved most (all layers): ${
      d.overall.moved
        .slice(0, 5)
        .map((m) => `${m.expert} ${pct(m.share_a, 2)} -> ${pct(m.share_b, 2)}`)
        .join(", ") || "none"
    }`,
  ];
  const a = r.aligned;
  if (a) {
    lines.push(
      `rows matched on (req_id, token_idx, layer): ${a.rows} (only in a: ${a.rows_only_a}, only in b: ${a.rows_only_b})`,
    );
    lines.push(
      `top-1 agreement ${pct(a.top1_agreement)}, mean top-k overlap ${pct(a.topk_overlap)}, identical top-k sets ${pct(a.topk_identical)}`,
    );
    const div = a.requests.filter((q) => q.first_divergence !== null);
    const first = div.reduce<(typeof div)[number] | null>(
      (m, q) => (m === null || q.first_divergence!.token_idx < m.first_divergence!.token_idx ? q : m),
      null,
    );
    lines.push(
      `${a.requests_diverged} of ${a.requests_compared} requests route differently somewhere` +
        (first
          ? `; earliest: request ${JSON.stringify(first.req_id)} at token ${first.first_divergence!.token_idx}, layer ${first.first_divergence!.layer}`
          : ""),
    );
  } else lines.push("rows not compared one by one (see notes)");
  return lines.join("\n") + "\n";
}

/** `moe-prof compare`: what the command does once commander has parsed it (cli.ts). */
export async function compareCommand(a: string, b: string, opts: CompareOptions): Promise<void> {
  const setA = logSetOf(a);
  const report = await runCompare(setA, b, opts);
  const outDir = await prepareOutDir(opts.out, outAnchor(setA));
  const { compareSpec } = await import("../../render/compare-spec.js");
  const { specToPng } = await import("../../render/to-png.js");
  const png = await specToPng(compareSpec(report));
  const written = await writeOutputs(outDir, [
    { name: COMPARE_JSON, data: toJson(report) },
    { name: COMPARE_PNG, data: png },
  ]);
  if (opts.json) process.stdout.write(jsonOutput(report, opts.pretty));
  else {
    for (const n of report.notes) process.stderr.write(`note: ${n}\n`);
    process.stdout.write(compareSummaryText(report) + `wrote ${written.join(", ")}\n`);
  }
}
