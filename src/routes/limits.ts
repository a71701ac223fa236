// What validate and hist hold in memory is bounded by these limits, whatever the number of rows and
// their order (README "Limits", APPENDIX "Memory bounds"). A log beyond one is refused with one line
// (exit 1): its meta line at once, where the shape is declared there; otherwise at the row that
// crosses the limit. Both commands apply them, so they accept and refuse the same logs.

/** layers_logged x num_experts: hist keeps one 8-byte counter per layer and expert (plus E x E pairs, capped separately). */
export const MAX_LAYER_EXPERT_CELLS = 1_048_576; // 2^20: 16 layers x 65,536 experts, 64 x 16,384, 4,096 x 256
/** Experts per row: pair counting costs top_k^2 per row. Real routers use 1..16. */
export const MAX_TOP_K = 256;
/** Distinct req_id values: each costs a map entry (~100 bytes) besides its per-layer state. */
export const MAX_REQUESTS = 1_048_576; // 2^20
/** Distinct requests x layers_logged: each pair holds ~44 bytes (coverage 20, top-1 repetition 24). */
export const MAX_REQUEST_LAYER_PAIRS = 4_194_304; // 2^22: 87,381 requests of 48 layers
/** Characters of all distinct req_id values together (each is kept once). */
export const MAX_REQ_ID_CHARS = 64 * 1024 * 1024;
/** Runs of consecutive token_idx kept beyond the one each (request, layer) has inline: <= 32 bytes each. */
export const MAX_EXTRA_POSITION_RUNS = 4_194_304; // 2^22

/** Thrown by coverage when a log crosses a limit; the scan turns it into a one-line refusal. */
export class LimitExceeded extends Error {
  constructor(
    readonly field: string,
    what: string,
  ) {
    super(what);
  }
}
