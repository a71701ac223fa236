// The fast path of the routes-log scan: lines of the shape the capture writes are read by a byte
// scanner compiled to WebAssembly (route-scan.c -> route-scan.wasm beside this file, shipped built;
// no native build at install) and validated as it reads; every other line goes to JSON.parse and the
// zod path.
//
// The scanner recognises one JSON object per line whose keys are the route schema's (type, req_id,
// token_idx, layer, topk_ids, topk_weights, phase, token_id, step), each at most once, in any
// order, with JSON whitespace between tokens, plus extra keys (which the schema allows) whose
// values are strings without escapes, numbers, true, false or null (their JSON syntax checked);
// its values must be of the plain forms the capture writes: strings without escapes, non-negative
// integers of at most 15 digits without sign, fraction or exponent, weights it can convert
// exactly (Clinger's fast path). A line it recognises and finds valid under the log's rules is
// accepted; ANY other line (an unknown value form, a repeated key, an escape, a number form it
// does not take, an invalid value, a duplicate row) is answered "not mine" and goes through
// JSON.parse and the zod path, which decide and word it. So the fast path only ever accepts,
// never rejects: the accept/reject decision and every message stay those of the slow path
// (test/fast-scan.test.ts fuzzes that on mutated lines).
//
// Why WebAssembly: on this project's 2-core box (loaded), a 200 MB log through JSON.parse + the
// check ran at ~70 MB/s; the same byte scanner in TypeScript at ~100 MB/s; compiled to
// WebAssembly at ~400 MB/s (APPENDIX.md, "Fast scan").
import { readFileSync } from "node:fs";
import type { RouteRules } from "../schema.js";
import type { CheckedRoute } from "../route-check.js";

/** The mutable row the fast path fills; handed to consumers, who must not keep it past the call. */
interface FastRow extends CheckedRoute {
  /** Always there: the fast path serves only logs whose rows carry weights. */
  topk_weights: number[];
  phase: "prefill" | "decode" | undefined;
  token_id: number | undefined;
  step: number | undefined;
}

/** What the fast path hands an accepted row to (scan.ts's RouteAcceptor). */
export interface CheckedRowAcceptor {
  /** The request index of a req_id; null when it cannot be taken here (the slow path decides). */
  fastRequestIndex(reqId: string): number | null;
  /** Records a row already known to be valid; false when it is a duplicate (nothing recorded). */
  acceptChecked(row: CheckedRoute, req: number): boolean;
}

/** Whether the fast path is on: MOE_PROF_FAST_SCAN=0 turns it off (for comparisons and benchmarks). */
export function fastScanEnabled(): boolean {
  return process.env.MOE_PROF_FAST_SCAN !== "0";
}

interface ScanExports {
  memory: WebAssembly.Memory;
  in_ptr(): number;
  in_cap(): number;
  max_records(): number;
  max_k(): number;
  layer_ok_ptr(): number;
  rec_end_ptr(): number;
  rec_ok_ptr(): number;
  rec_req_s_ptr(): number;
  rec_req_ptr(): number;
  rec_req_e_ptr(): number;
  rec_tok_ptr(): number;
  rec_layer_ptr(): number;
  rec_ids_ptr(): number;
  rec_w_ptr(): number;
  rec_phase_ptr(): number;
  rec_token_id_ptr(): number;
  rec_step_ptr(): number;
  configure(k: number, limit: number, maxLayer: number): number;
  scan(start: number, len: number): number;
}

/** tsc does not copy the module into dist/: from dist/src/routes/fast-scan/ to the package's own
 * src/routes/fast-scan/ (shipped: package.json "files"). */
export const SCANNER_WASM = new URL("../../../../src/routes/fast-scan/route-scan.wasm", import.meta.url);
let compiled: WebAssembly.Module | null = null;

function scannerModule(): WebAssembly.Module {
  // Synchronous compile: 7 KB, well under a millisecond.
  compiled ??= new WebAssembly.Module(readFileSync(SCANNER_WASM));
  return compiled;
}

/** The slow path for one line, and whether the scan should stop. */
export interface SlowLine {
  line(text: string, lineNo: number, terminated: boolean): void;
  readonly stopped: boolean;
}

/** Route lines through the WebAssembly scanner into an acceptor; the rest to the slow path. */
export class FastRouteLines {
  private readonly x: ScanExports;
  private readonly mem: Uint8Array;
  private readonly inPtr: number;
  private readonly cap: number;
  private readonly k: number;
  private readonly maxK: number;
  /** Per id the scanner gave a req_id: the request index (assigned on the row's acceptance), and the string. */
  private readonly reqIndex: number[] = [];
  private readonly reqId: string[] = [];
  private readonly recReq: Int32Array;
  private readonly row: FastRow;
  private readonly recEnd: Uint32Array;
  private readonly recOk: Uint8Array;
  private readonly recReqS: Uint32Array;
  private readonly recReqE: Uint32Array;
  private readonly recTok: Float64Array;
  private readonly recLayer: Int32Array;
  private readonly recIds: Int32Array;
  private readonly recW: Float64Array;
  private readonly recPhase: Uint8Array;
  private readonly recTokenId: Float64Array;
  private readonly recStep: Float64Array;

  /** Null when the scanner cannot serve these rules (top_k above what it holds; rows without
   * weights, which it would take for lines to hand on: those logs go through the slow path). */
  static create(rules: RouteRules, acceptor: CheckedRowAcceptor): FastRouteLines | null {
    if (rules.weights === false) return null;
    const x = new WebAssembly.Instance(scannerModule()).exports as unknown as ScanExports;
    const maxLayer = Math.max(...rules.layers);
    const mem = new Uint8Array(x.memory.buffer);
    const layerOk = x.layer_ok_ptr();
    for (const l of rules.layers) mem[layerOk + l] = 1;
    if (x.configure(rules.topK, rules.expertLimit, maxLayer) !== 1) return null;
    return new FastRouteLines(x, rules.topK, acceptor);
  }

  private constructor(x: ScanExports, k: number, acceptor: CheckedRowAcceptor) {
    this.x = x;
    this.acceptor = acceptor;
    const buf = x.memory.buffer; // the module never grows its memory: views stay valid
    this.mem = new Uint8Array(buf);
    this.inPtr = x.in_ptr();
    this.cap = x.in_cap();
    this.k = k;
    this.maxK = x.max_k();
    const n = x.max_records();
    this.recEnd = new Uint32Array(buf, x.rec_end_ptr(), n);
    this.recOk = new Uint8Array(buf, x.rec_ok_ptr(), n);
    this.recReqS = new Uint32Array(buf, x.rec_req_s_ptr(), n);
    this.recReqE = new Uint32Array(buf, x.rec_req_e_ptr(), n);
    this.recTok = new Float64Array(buf, x.rec_tok_ptr(), n);
    this.recLayer = new Int32Array(buf, x.rec_layer_ptr(), n);
    this.recIds = new Int32Array(buf, x.rec_ids_ptr(), n * this.maxK);
    this.recW = new Float64Array(buf, x.rec_w_ptr(), n * this.maxK);
    this.recPhase = new Uint8Array(buf, x.rec_phase_ptr(), n);
    this.recTokenId = new Float64Array(buf, x.rec_token_id_ptr(), n);
    this.recStep = new Float64Array(buf, x.rec_step_ptr(), n);
    this.recReq = new Int32Array(buf, x.rec_req_ptr(), n);
    this.row = {
      type: "route",
      req_id: "",
      token_idx: 0,
      layer: 0,
      topk_ids: new Array<number>(k).fill(0),
      topk_weights: new Array<number>(k).fill(0.5),
      phase: undefined,
      token_id: undefined,
      step: undefined,
    };
  }

  private readonly acceptor: CheckedRowAcceptor;

  /**
   * The lines of buf[start, end) (valid UTF-8; end just past a "\n"), the first numbered
   * firstLineNo. Returns how many lines were consumed (fewer when `slow.stopped` became true).
   */
  lines(buf: Buffer, start: number, end: number, firstLineNo: number, slow: SlowLine): number {
    let done = 0;
    let pos = start;
    while (pos < end) {
      let stop = end;
      if (stop - pos > this.cap) {
        stop = buf.lastIndexOf(10, pos + this.cap - 1) + 1;
        if (stop <= pos) {
          // One line longer than the scanner's buffer: the slow path takes it.
          const nl = buf.indexOf(10, pos);
          slow.line(buf.toString("utf8", pos, nl), firstLineNo + done, true);
          done++;
          pos = nl + 1;
          if (slow.stopped) return done;
          continue;
        }
      }
      const got = this.piece(buf, pos, stop, firstLineNo + done, slow);
      done += got.lines;
      if (got.stopped) return done;
      pos = stop;
    }
    return done;
  }

  private piece(
    buf: Buffer,
    start: number,
    end: number,
    firstLineNo: number,
    slow: SlowLine,
  ): { lines: number; stopped: boolean } {
    const len = end - start;
    this.mem.set(buf.subarray(start, end), this.inPtr);
    const {
      x,
      row,
      k,
      maxK,
      acceptor,
      recEnd,
      recOk,
      recReq,
      recReqS,
      recReqE,
      recTok,
      recLayer,
      recIds,
      recW,
      recPhase,
      recTokenId,
      recStep,
      reqIndex,
      reqId,
    } = this;
    const ids = row.topk_ids;
    const ws = row.topk_weights;
    const inPtr = this.inPtr;
    let lineNo = firstLineNo;
    let off = 0;
    while (off < len) {
      const n = x.scan(off, len);
      for (let i = 0; i < n; i++, lineNo++) {
        const lineEnd = recEnd[i]!;
        if (recOk[i] === 1) {
          const id = recReq[i]!;
          let req = reqIndex[id];
          if (req === undefined || req < 0) {
            // First row of this req_id: one string, then an index from the coverage.
            const s = Buffer.from(this.mem.buffer, inPtr + recReqS[i]!, recReqE[i]! - recReqS[i]!).toString("utf8");
            while (reqId.length <= id) reqId.push("");
            reqId[id] = s;
            req = acceptor.fastRequestIndex(s) ?? -1;
            while (reqIndex.length < id) reqIndex.push(-1);
            reqIndex[id] = req; // -1: not cached, this req_id goes the slow way each time
          }
          row.req_id = reqId[id]!;
          row.token_idx = recTok[i]!;
          row.layer = recLayer[i]!;
          const b = i * maxK;
          for (let j = 0; j < k; j++) {
            ids[j] = recIds[b + j]!;
            ws[j] = recW[b + j]!;
          }
          const ph = recPhase[i]!;
          row.phase = ph === 0 ? undefined : ph === 1 ? "prefill" : "decode";
          const tid = recTokenId[i]!;
          row.token_id = tid < 0 ? undefined : tid;
          const st = recStep[i]!;
          row.step = st < 0 ? undefined : st;
          // A duplicate goes to the slow path too, which finds it again and words it.
          if (req >= 0 && acceptor.acceptChecked(row, req)) {
            off = lineEnd;
            continue;
          }
        }
        slow.line(buf.toString("utf8", start + off, start + lineEnd - 1), lineNo, true);
        off = lineEnd;
        if (slow.stopped) return { lines: lineNo - firstLineNo + 1, stopped: true };
      }
    }
    return { lines: lineNo - firstLineNo, stopped: false };
  }
}
