// What `place` keeps of a routes log: per analysed layer, every row's step, top-1 slot and
// topk_ids in a spill file, streamed back as per-expert counts, top-1 co-routing and per-step
// counts. The log the plans are made from and a held-out log (--eval) are read the same way.
import { scanProgress } from "../scan-progress.js";
import { logName } from "../../routes/log-source.js";
import { reportSkipped, type LogRead } from "../../routes/read-log.js";
import { readRoutesLogSet } from "../../routes/read-log-set.js";
import { logSetOf, setWhere, type LogInput } from "../../routes/log-set.js";
import { finishedSpill, RowSpill, type SpillRecords, MAX_PARTITIONS } from "../../routes/row-spill.js";
import type { RoutesMeta } from "../../routes/schema.js";
import { readOptions } from "../command-output.js";
import { envError } from "../../errors.js";

/** A log read for place: its rows per layer index (of `layers`) in `spill`. Dispose of it. */
export interface PlaceLog {
  read: LogRead;
  /** The analysed layers, in the order of the spill's partitions. */
  layers: number[];
  spill: RowSpill;
  k: number;
  /** Per layer index: 1 when its rows arrived in step order. */
  ordered: Uint8Array;
  /** Rows without `step`: when > 0, per-step statistics are not computed. */
  withoutStep: number;
}

export interface PlaceReadOptions {
  layers?: string;
  lenient?: boolean;
}

/**
 * Reads the log (one file or a set read as one) into per-layer spills. `check(meta)`, when given, runs on the full meta line before
 * any row and returns the layers to keep (in that order): a held-out log's layers are those of
 * the plans, whatever it logged besides.
 */
export async function readPlaceLog(
  input: LogInput,
  opts: PlaceReadOptions,
  check?: (meta: RoutesMeta) => number[],
): Promise<PlaceLog> {
  const set = logSetOf(input);
  const file = setWhere(set);
  // Spill record: f64 [step or -1], i32 [slot of the top-1 in topk_ids (-1: unknown), topk_ids...].
  let spill: RowSpill | null = null;
  let k = 0;
  const f64 = new Float64Array(1);
  let i32 = new Int32Array(1);
  let lastStep = new Float64Array(0);
  let ordered = new Uint8Array(0);
  let withoutStep = 0;
  let layers: number[] = [];
  /** With `check`: per logged layer index, the kept layer's index or -1. */
  let keep: Int32Array | null = null;
  try {
    const progress = scanProgress(`reading ${logName(file)}`);
    // A held-out log is never filtered by --layers: `check` chose its layers.
    const read = await readRoutesLogSet(set, readOptions(check ? { lenient: opts.lenient } : opts, progress), {
      onMeta(meta: RoutesMeta) {
        layers = check ? check(meta) : [...meta.layers_logged];
        if (check) keep = Int32Array.from(meta.layers_logged, (l) => layers.indexOf(l));
        const L = layers.length;
        if (L > MAX_PARTITIONS) throw envError(`${file}: ${L} layers logged; place handles at most ${MAX_PARTITIONS}`);
        k = meta.top_k;
        i32 = new Int32Array(1 + k);
        lastStep = new Float64Array(L).fill(-1);
        ordered = new Uint8Array(L).fill(1);
        spill = new RowSpill(L, { f64: 1, i32: 1 + k });
      },
      onRow(row, _req, li) {
        if (keep !== null) {
          li = keep[li]!;
          if (li < 0) return;
        }
        const step = row.step ?? -1;
        if (row.step === undefined) withoutStep++;
        else if (step < lastStep[li]!) ordered[li] = 0;
        else lastStep[li] = step;
        f64[0] = step;
        const ws = row.topk_weights;
        let best = ws === undefined ? -1 : 0;
        if (ws !== undefined) for (let j = 1; j < k; j++) if (ws[j]! > ws[best]!) best = j;
        i32[0] = best;
        for (let j = 0; j < k; j++) i32[1 + j] = row.topk_ids[j]!;
        spill!.append(li, f64, i32);
      },
    }).finally(() => progress?.end());
    const s = finishedSpill(spill, file);
    reportSkipped(read, (t) => process.stderr.write(t));
    return { read, layers, spill: s, k, ordered, withoutStep };
  } catch (e) {
    (spill as RowSpill | null)?.dispose();
    throw e;
  }
}

/**
 * One layer's expert counts and T[a*E+b] (rows with top-1 a that also route to b), streamed from
 * its spill. Rows whose top-1 is unknown (no weights) add to the counts only.
 */
export function layerCounts(
  spill: RowSpill,
  li: number,
  E: number,
  k: number,
): { counts: Float64Array; T: Float64Array; rows: number } {
  const counts = new Float64Array(E);
  const T = new Float64Array(E * E);
  let rows = 0;
  for (const c of spill.chunks(li)) {
    for (let i = 0; i < c.count; i++) {
      const o = i * spill.w32 + spill.i32Base;
      const slot = c.i32[o]!;
      const a = slot < 0 ? -1 : c.i32[o + 1 + slot]!;
      for (let j = 0; j < k; j++) {
        const b = c.i32[o + 1 + j]!;
        counts[b]!++;
        if (a >= 0 && b !== a) T[a * E + b]!++;
      }
    }
    rows += c.count;
  }
  return { counts, T, rows };
}

/**
 * Per engine step of one layer, its per-expert counts (one buffer, reused: consume it at once).
 * Rows of one step arrive together in the capture's logs (steps never go back within a layer):
 * then the spill is streamed. Otherwise the layer's steps and ids are loaded and sorted.
 */
export function* stepGroups(
  spill: RowSpill,
  li: number,
  E: number,
  k: number,
  ordered: boolean,
): Generator<Float64Array> {
  const counts = new Float64Array(E);
  let current = -1;
  let any = false;
  for (const { records: c, order } of inStepOrder(spill, li, ordered)) {
    for (let n = 0; n < c.count; n++) {
      const i = order === null ? n : order[n]!;
      const step = c.f64[i * spill.w64]!;
      if (any && step !== current) {
        yield counts;
        counts.fill(0);
      }
      current = step;
      any = true;
      const o = i * spill.w32 + spill.i32Base + 1;
      for (let j = 0; j < k; j++) counts[c.i32[o + j]!]!++;
    }
  }
  if (any) yield counts;
}

/** A layer's records and the order to visit them in: chunk by chunk as spilled (order null: as they
 * are) when its steps are already in order, else all of them at once, sorted by step (stable). */
function* inStepOrder(
  spill: RowSpill,
  li: number,
  ordered: boolean,
): Generator<{ records: SpillRecords; order: number[] | null }> {
  if (ordered) {
    for (const c of spill.chunks(li)) yield { records: c, order: null };
    return;
  }
  const all = spill.readAll(li);
  const order = Array.from({ length: all.count }, (_, i) => i).sort(
    (a, b) => all.f64[a * spill.w64]! - all.f64[b * spill.w64]! || a - b,
  );
  yield { records: all, order };
}
