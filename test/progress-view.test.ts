// run's progress on stderr: tokens as they come where the worker reports them (the hf engine, every
// step), requests where it does not (vLLM 0.15.1 reports finished requests only).
import { test } from "node:test";
import assert from "node:assert/strict";
import { ProgressView } from "../src/passes/progress-view.js";
import type { WorkerMessage } from "../src/worker/protocol.js";

function view(tty: boolean) {
  const written: string[] = [];
  const out = { write: (s: string) => written.push(s) } as unknown as NodeJS.WriteStream;
  return { v: new ProgressView(out, tty), written };
}

const progress = (done: number, tokens?: number, atMost?: number): WorkerMessage => ({
  type: "progress",
  done,
  total: 4,
  ...(tokens === undefined ? {} : { tokens, tokens_at_most: atMost }),
});

test("hf: a batch of 4 requests x 12 tokens shows tokens step by step, not 0/4 then 4/4", () => {
  const { v, written } = view(false);
  v.onMessage("log", { type: "phase", phase: "generate", total: 4 });
  // 12 steps of 4 tokens; all 4 requests finish at the last one, as in one batch of the tiny model
  for (let step = 1; step <= 12; step++) v.onMessage("log", progress(step === 12 ? 4 : 0, 4 * step, 48));
  assert.deepEqual(written, [
    "log: generating [------------------------] 0/4 requests\n",
    "log: generating [##----------------------] 4/48 tokens (at most), 0/4 requests done\n",
    "log: generating [######------------------] 12/48 tokens (at most), 0/4 requests done\n",
    "log: generating [############------------] 24/48 tokens (at most), 0/4 requests done\n",
    "log: generating [##################------] 36/48 tokens (at most), 0/4 requests done\n",
    "log: generating [########################] 48/48 tokens (at most), 4/4 requests done\n",
  ]);
  // on a terminal every step redraws the line
  const tty = view(true);
  for (let step = 1; step <= 12; step++) tty.v.onMessage("log", progress(0, 4 * step, 48));
  assert.equal(tty.written.length, 12);
  assert.equal(
    tty.written[4],
    "\r\x1b[2Klog: generating [##########--------------] 20/48 tokens (at most), 0/4 requests done",
  );
});

test("a request that stops early lowers the bound: the bar ends full", () => {
  const { v, written } = view(true);
  v.onMessage("log", progress(1, 3, 40)); // one request stopped after 1 token: 1 + 3 x 12 + ...
  v.onMessage("log", progress(4, 25, 25));
  assert.match(written.at(-1)!, /\[#{24}\] 25\/25 tokens \(at most\), 4\/4 requests done$/);
});

test("vLLM (no token counts): finished requests, as before", () => {
  const { v, written } = view(false);
  for (let done = 1; done <= 4; done++) v.onMessage("no-log", progress(done));
  assert.deepEqual(written, [
    "no-log: generating [######------------------] 1/4 requests\n",
    "no-log: generating [############------------] 2/4 requests\n",
    "no-log: generating [##################------] 3/4 requests\n",
    "no-log: generating [########################] 4/4 requests\n",
  ]);
});
