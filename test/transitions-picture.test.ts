// layer_transitions.png (issue 17 item 8): 0% cells drawn in the legend's 0% colour (rows without
// tokens blank), rows of few tokens marked faint with their token count, expert labels spaced so
// they never run together, "1 ... pair" in the singular.
import { test } from "node:test";
import assert from "node:assert/strict";
import { transitionsSpec, tickEvery, FEW_TOKENS } from "../src/render/transitions-spec.js";
import type { HistSummary } from "../src/analysis/summary.js";
import type { TransitionsSummary } from "../src/analysis/transitions.js";

type Cell = { from: number; to: number; p: number; tokens: number; few: boolean };
type Spec = {
  title: { subtitle: string[] };
  hconcat: { data: { values: Cell[] }; encoding: { x: { axis: { values?: number[] } } } }[];
};

function summaries(matrix: number[][]): [HistSummary, TransitionsSummary] {
  const pair = {
    from_layer: 0,
    to_layer: 1,
    tokens: 30,
    top: [],
    matrix,
    mutual_information_bits: 0.5,
    expected_mi_bits: 0.2,
    adjusted_mi: 0.3,
  };
  const t = { pairs: [pair], mean_mutual_information_bits: 0.5, mean_expected_mi_bits: 0.2, mean_adjusted_mi: 0.3 };
  return [{ num_experts: 3, top_k: 2, model_id: "m" } as unknown as HistSummary, t as unknown as TransitionsSummary];
}

test("matrix cells: every cell of a row with tokens (0 included), none of an empty row; few-token rows marked", () => {
  const [s, t] = summaries([
    [20, 0, 5],
    [0, 0, 0],
    [0, 1, 0],
  ]);
  const spec = transitionsSpec(s, t) as unknown as Spec;
  const cells = spec.hconcat[1]!.data.values;
  assert.deepEqual(
    cells.map((c) => [c.from, c.to, c.p, c.tokens, c.few]),
    [
      [0, 0, 0.8, 25, false],
      [0, 1, 0, 25, false],
      [0, 2, 0.2, 25, false],
      [2, 0, 0, 1, true],
      [2, 1, 1, 1, true],
      [2, 2, 0, 1, true],
    ],
  );
  assert.ok(FEW_TOKENS > 1);
  assert.match(spec.title.subtitle[0]!, /^1 consecutive layer pair, /);
});

test("expert axis labels at least 22 px apart: all of 8 experts, every 5th of 60 on 480 px", () => {
  assert.deepEqual(tickEvery(8, 240), [0, 1, 2, 3, 4, 5, 6, 7]);
  assert.deepEqual(tickEvery(60, 480), [0, 5, 10, 15, 20, 25, 30, 35, 40, 45, 50, 55]);
  for (const [E, px] of [
    [60, 480],
    [128, 560],
    [37, 296],
  ] as const) {
    const ticks = tickEvery(E, px);
    assert.ok(((ticks[1] ?? E) - ticks[0]!) * (px / E) >= 22, `${E} experts on ${px} px`);
  }
});
