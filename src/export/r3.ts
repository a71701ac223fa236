// --format r3: per request, the experts every token was routed to, in vLLM's routed-experts
// layout ([tokens, layers, top_k], what `enable_return_routed_experts` returns and Rollout
// Routing Replay (R3) trainers replay), int16, in one uncompressed .npz:
//   <key>/prompt_routed_experts  [P, L, k]      positions 0..P-1 (rows with phase "prefill")
//   <key>/routed_experts         [G - 1, L, k]  positions P..P+G-2 (phase "decode"; the last
//                                               sampled token is never fed back, so has no row)
//   req_ids                      [requests]     the req_id of each key, as '<U' strings
// Layer axis: the logged layers in ascending order; ids in the router's order. <key> is the
// req_id when every req_id is a plain name ([A-Za-z0-9._-], at most 100 characters), else the
// request's index in order of first row (req_ids maps them back).
//
// Memory: the log is read once, validating it, into one spill file (log order) on disk; a second
// pass over the spill fills each request's array and writes it out as soon as the request's last
// row has passed. So what is held is the arrays of requests still in flight (in the capture's
// order, the requests running at once), never the whole log.
import path from "node:path";
import type { RoutesMeta } from "../routes/schema.js";
import type { LogRead } from "../routes/read-log.js";
import { RowSpill } from "../routes/row-spill.js";
import { npyHeader, encodeNpyStrings } from "../artifacts/npy.js";
import { StoredZipWriter } from "../artifacts/zip-store.js";
import { UserError, EXIT_INVALID } from "../errors.js";
import type { ExportFormat, ExportSink } from "./format.js";

export const R3_FILE = "routed_experts.npz";
const PLAIN_KEY = /^[A-Za-z0-9._-]{1,100}$/;
const INT16_MAX = 32767;

function grow(a: Float64Array, n: number, fill: number): Float64Array {
  if (n <= a.length) return a;
  const b = new Float64Array(Math.max(n, a.length * 2)).fill(fill);
  b.set(a);
  return b;
}

export const r3Format: ExportFormat = {
  name: "r3",
  description: `${R3_FILE}: per request prompt_routed_experts / routed_experts, int16 [tokens, layers, top_k] (vLLM's routed-experts layout)`,
  begin(file: string): ExportSink {
    let spill: RowSpill | null = null;
    let k = 0;
    let f64 = new Float64Array(1);
    let i32 = new Int32Array(1);
    let ordinal = 0;
    // Per request index: ordinal of its last row, largest prefill position, smallest decode position.
    let lastRow: Float64Array = new Float64Array(0);
    let maxPrefill: Float64Array = new Float64Array(0);
    let minDecode: Float64Array = new Float64Array(0);
    let noPhase: { req_id: string; token_idx: number; layer: number } | null = null;
    let layerRank = new Int32Array(0);
    let sortedLayers: number[] = [];

    return {
      onMeta(meta: RoutesMeta) {
        k = meta.top_k;
        sortedLayers = [...meta.layers_logged].sort((a, b) => a - b);
        layerRank = Int32Array.from(meta.layers_logged.map((l) => sortedLayers.indexOf(l)));
        f64 = new Float64Array(1);
        // i32: request index, layer rank, phase (1 prefill, 2 decode), topk_ids...
        i32 = new Int32Array(3 + k);
        spill = new RowSpill(1, { f64: 1, i32: 3 + k });
      },
      onRow(row, req, li) {
        lastRow = grow(lastRow, req + 1, -1);
        maxPrefill = grow(maxPrefill, req + 1, -1);
        minDecode = grow(minDecode, req + 1, Infinity);
        lastRow[req] = ordinal++;
        const t = row.token_idx;
        if (row.phase === "prefill") {
          if (t > maxPrefill[req]!) maxPrefill[req] = t;
        } else if (row.phase === "decode") {
          if (t < minDecode[req]!) minDecode[req] = t;
        } else if (noPhase === null) noPhase = { req_id: row.req_id, token_idx: t, layer: row.layer };
        f64[0] = t;
        i32[0] = req;
        i32[1] = layerRank[li]!;
        i32[2] = row.phase === "prefill" ? 1 : 2;
        for (let j = 0; j < k; j++) i32[3 + j] = row.topk_ids[j]!;
        spill!.append(0, f64, i32);
      },
      async finish(read: LogRead, outDir: string) {
        const s = spill;
        if (s === null) throw new UserError(`${file}: no meta line`, EXIT_INVALID);
        s.finishWriting();
        const miss = noPhase;
        if (miss !== null) {
          throw new UserError(
            `${file}: phase: missing on the row req_id ${JSON.stringify(miss.req_id)}, token_idx ${miss.token_idx}, layer ${miss.layer} (r3 splits prompt from generated tokens by phase)`,
            EXIT_INVALID,
          );
        }
        if (read.numExperts - 1 > INT16_MAX)
          throw new UserError(`${file}: expert ids up to ${read.numExperts - 1} do not fit r3's int16`, EXIT_INVALID);
        const L = sortedLayers.length;
        // Each request's positions must be 0..T-1 in every layer, prompt before generated.
        const shapes = read.requests.map((q, r) => {
          const T = q.tokens;
          const where = `${file}: request ${JSON.stringify(q.req_id)}`;
          if (q.min_token_idx !== 0 || q.max_token_idx !== T - 1 || q.rows_per_layer.some((n) => n !== T)) {
            throw new UserError(
              `${where}: positions are not 0..${T - 1} in every layer (r3 arrays are indexed by position)`,
              EXIT_INVALID,
            );
          }
          const P = maxPrefill[r]! + 1;
          if (minDecode[r]! !== Infinity && minDecode[r]! !== P) {
            throw new UserError(
              `${where}: decode rows start at token_idx ${minDecode[r]}, prefill rows end at ${P - 1} (r3 needs the prompt first)`,
              EXIT_INVALID,
            );
          }
          return { T, P };
        });
        const plain = read.requests.every((q) => PLAIN_KEY.test(q.req_id));
        const key = (r: number) => (plain ? read.requests[r]!.req_id : String(r));

        const zip = await StoredZipWriter.create(path.join(outDir, R3_FILE));
        let entries = 0;
        try {
          const open = new Map<number, Int16Array>();
          let seen = 0;
          for (const c of s.chunks(0)) {
            for (let i = 0; i < c.count; i++, seen++) {
              const o = i * s.w32 + s.i32Base;
              const r = c.i32[o]!;
              let buf = open.get(r);
              if (buf === undefined) {
                buf = new Int16Array(shapes[r]!.T * L * k);
                open.set(r, buf);
              }
              const at = (c.f64[i * s.w64]! * L + c.i32[o + 1]!) * k;
              for (let j = 0; j < k; j++) buf[at + j] = c.i32[o + 3 + j]!;
              if (lastRow[r] === seen) {
                const { T, P } = shapes[r]!;
                const split = P * L * k;
                const bytes = (a: Int16Array) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
                await zip.add(`${key(r)}/prompt_routed_experts.npy`, [
                  npyHeader("<i2", [P, L, k]),
                  bytes(buf.subarray(0, split)),
                ]);
                await zip.add(`${key(r)}/routed_experts.npy`, [
                  npyHeader("<i2", [T - P, L, k]),
                  bytes(buf.subarray(split)),
                ]);
                entries += 2;
                open.delete(r);
              }
            }
          }
          await zip.add("req_ids.npy", [encodeNpyStrings(read.requests.map((q) => q.req_id))]);
          entries++;
          await zip.finish();
        } catch (e) {
          await zip.abort();
          throw e;
        }
        return {
          files: [
            {
              file: R3_FILE,
              what: "per request <key>/prompt_routed_experts and <key>/routed_experts, int16 [tokens, layers, top_k]; req_ids",
              dtype: "<i2",
              entries,
            },
          ],
          details: {
            layers: sortedLayers,
            top_k: k,
            keys: plain ? "req_id" : "request index (order of first row); req_ids maps them",
            requests: read.requests.map((q, r) => ({
              key: key(r),
              req_id: q.req_id,
              prompt_tokens: shapes[r]!.P,
              routed_tokens: shapes[r]!.T - shapes[r]!.P,
            })),
          },
          notes: [],
        };
      },
      dispose() {
        spill?.dispose();
        return Promise.resolve();
      },
    };
  },
};
