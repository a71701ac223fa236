// place --eval LOG: plans made from one log, scored on a held-out log of the same model; the
// figures are held to a brute-force scoring of the plans (as the report gives them) on that log.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { execa } from "execa";
import { runPlace } from "../src/commands/place/index.js";
import { placementSpec } from "../src/render/placement-spec.js";
import type { PolicyEntry } from "../src/analysis/placement-report.js";
import { parseLog, randomLog, top1, type Row } from "./brute-force.js";
import { CLI, tempDir } from "./helpers.js";

const SHAPE = { requests: 6, layers: [0, 2, 3], experts: 12, topK: 3, maxTokens: 9 };

function logFile(seed: number, name: string, extra: object = {}): string {
  const text = randomLog({ seed, ...SHAPE, ...extra });
  const file = path.join(tempDir(), name);
  writeFileSync(file, text);
  return file;
}

/** Share of expert e's work on GPU g under a plan's slot lists (replicas split the work evenly). */
function share(experts: number[][], e: number, g: number): number {
  const total = experts.flat().filter((x) => x === e).length;
  return total === 0 ? 0 : experts[g]!.filter((x) => x === e).length / total;
}

const maxOverMean = (loads: number[]) => {
  const sum = loads.reduce((a, b) => a + b, 0);
  return sum > 0 ? Math.max(...loads) / (sum / loads.length) : null;
};

/** One policy entry scored on `rows`, from the definitions: loads, max/mean, per step, top-1 locality. */
function bruteScore(entry: PolicyEntry, rows: Row[]) {
  const G = entry.gpus;
  let localAll = 0;
  let assignAll = 0;
  const layers = entry.layers.map((l) => {
    const mine = rows.filter((r) => r.layer === l.layer);
    const loadsOf = (rs: Row[]) =>
      Array.from({ length: G }, (_, g) =>
        rs.reduce((s, r) => s + r.topk_ids.reduce((t, e) => t + share(l.experts, e, g), 0), 0),
      );
    const steps = [...new Set(mine.map((r) => r.step!))];
    const perStep = steps.map((s) => maxOverMean(loadsOf(mine.filter((r) => r.step === s)))!);
    let local = 0;
    for (const r of mine) {
      const a = top1(r);
      for (const b of r.topk_ids)
        local +=
          b === a
            ? 1
            : Array.from({ length: G }, (_, g) => share(l.experts, a, g) * share(l.experts, b, g)).reduce(
                (x, y) => x + y,
                0,
              );
    }
    localAll += local;
    assignAll += mine.length * r0k(mine);
    return {
      max_over_mean: maxOverMean(loadsOf(mine))!,
      step: perStep.reduce((a, b) => a + b, 0) / perStep.length,
      top1: local / (mine.length * r0k(mine)),
    };
  });
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  return {
    layers,
    max_over_mean: mean(layers.map((l) => l.max_over_mean)),
    step_max_over_mean: mean(layers.map((l) => l.step)),
    top1_gpu_share: localAll / assignAll,
  };
}
const r0k = (rows: Row[]) => rows[0]!.topk_ids.length;

const close = (a: number | null, b: number, what: string) => {
  assert.ok(a !== null && Math.abs(a - b) < 1e-9, `${what}: ${a} vs ${b}`);
};

test("--eval: plans from the first log, every figure scored on the held-out log (brute force)", async () => {
  const made = logFile(1, "day1.jsonl");
  const held = logFile(2, "day2.jsonl");
  const inSample = (await runPlace(made, { gpus: "2,4" })).report;
  const { report } = await runPlace(made, { gpus: "2,4", eval: held });
  assert.equal(inSample.scored_on.kind, "in-sample");
  assert.equal(inSample.scored_on.file, "day1.jsonl");
  const heldRows = parseLog(readFileSync(held, "utf8")).rows;
  assert.deepEqual(report.scored_on, {
    kind: "held-out",
    file: "day2.jsonl",
    bytes: readFileSync(held).length,
    rows: heldRows.length,
    requests: new Set(heldRows.map((r) => r.req_id)).size,
  });
  let differ = 0;
  for (const policy of ["contiguous", "balanced", "replicated", "coact"] as const) {
    report.policies[policy].forEach((e, i) => {
      // The plans are the in-sample ones: made from the first log only.
      assert.deepEqual(
        e.layers.map((l) => l.experts),
        inSample.policies[policy][i]!.layers.map((l) => l.experts),
      );
      const want = bruteScore(e, heldRows);
      const what = `${policy} G=${e.gpus}`;
      close(e.max_over_mean, want.max_over_mean, `${what} max/mean`);
      close(e.step_max_over_mean, want.step_max_over_mean, `${what} step max/mean`);
      close(e.top1_gpu_share, want.top1_gpu_share, `${what} top1_gpu_share`);
      e.layers.forEach((l, j) => close(l.max_over_mean, want.layers[j]!.max_over_mean, `${what} layer ${l.layer}`));
      if (Math.abs(e.max_over_mean! - inSample.policies[policy][i]!.max_over_mean!) > 1e-9) differ++;
    });
  }
  assert.ok(differ > 0, "held-out figures equal the in-sample ones everywhere: the held-out log was not used");
  const spec = placementSpec(report) as unknown as { title: { subtitle: string[] } };
  assert.ok(
    spec.title.subtitle.includes(
      "held-out: plans made from day1.jsonl, scored on day2.jsonl (" + heldRows.length + " rows)",
    ),
  );
});

test("--eval on the CLI: the summary names the held-out log; --layers applies to both logs", async () => {
  const made = logFile(3, "a.jsonl");
  const held = logFile(4, "b.jsonl");
  const r = await execa(
    process.execPath,
    [CLI, "place", made, "--eval", held, "--gpus", "2", "--layers", "2", "--out", tempDir()],
    { reject: false },
  );
  assert.equal(r.exitCode, 0, r.stderr);
  assert.match(
    r.stdout.split("\n")[1]!,
    /held-out \(plans made from a\.jsonl, scored on b\.jsonl: \d+ rows, 6 requests\):$/,
  );
  const { report } = await runPlace(made, { gpus: "2", eval: held, layers: "2" });
  assert.deepEqual(
    report.policies.balanced[0]!.layers.map((l) => l.layer),
    [2],
  );
  const want = bruteScore(report.policies.balanced[0]!, parseLog(readFileSync(held, "utf8")).rows);
  close(report.policies.balanced[0]!.max_over_mean, want.max_over_mean, "layer 2 only");
});

test("--eval of another model: one line naming the held-out file and the field, exit 2", async () => {
  const made = logFile(5, "plans.jsonl");
  const cases: [string, RegExp][] = [
    [
      logFile(6, "k2.jsonl", { topK: 2 }),
      /^moe-prof: --eval .*k2\.jsonl: top_k: 2, but .*plans\.jsonl \(the plans' log\) has 3; a held-out log must be of the same model$/,
    ],
    [
      logFile(6, "e16.jsonl", { experts: 16 }),
      /^moe-prof: --eval .*e16\.jsonl: num_experts: 16, but .*plans\.jsonl \(the plans' log\) has 12/,
    ],
    [
      logFile(6, "layers.jsonl", { layers: [0, 3] }),
      /^moe-prof: --eval .*layers\.jsonl: layers_logged: lacks layer 2 of the plans \(0,2,3\)/,
    ],
  ];
  for (const [held, want] of cases) {
    const r = await execa(process.execPath, [CLI, "place", made, "--eval", held, "--gpus", "2", "--out", tempDir()], {
      reject: false,
    });
    assert.equal(r.exitCode, 2, `${held}: ${r.stderr}`);
    assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
    assert.match(r.stderr.trim(), want);
  }
});
