// The load generator against a fake OpenAI server on 127.0.0.1 (test/fake-openai.ts) whose
// delays are known: counts, timing math, disconnects, a server that dies, the time limit.
import { test } from "node:test";
import assert from "node:assert/strict";
import { runLoad, poissonArrivals, abortedIndices, type LoadSpec } from "../src/serving/load.js";
import { summariseLoad } from "../src/serving/load-summary.js";
import { distribution, percentileOfSorted } from "../src/serving/percentiles.js";
import { localOrigin } from "../src/serving/local-url.js";
import { SseReader } from "../src/serving/sse.js";
import { mulberry32 } from "../src/random.js";
import { startFakeOpenAI, type FakeOptions } from "./fake-openai.js";

const PROMPTS = ["one", "two", "three"];

function spec(url: string, over: Partial<LoadSpec> = {}): LoadSpec {
  return {
    url,
    settings: { endpoint: "completions", model: "fake", maxTokens: 16, temperature: 0, ignoreEos: false },
    prompts: PROMPTS,
    shape: { kind: "concurrency", concurrency: 2 },
    count: 6,
    timeLimitS: 30,
    abortFraction: 0,
    abortAfterTokenChunks: 2,
    seed: 1,
    ...over,
  };
}

async function withFake<T>(o: FakeOptions, f: (s: Awaited<ReturnType<typeof startFakeOpenAI>>) => Promise<T>) {
  const s = await startFakeOpenAI(o);
  try {
    return await f(s);
  } finally {
    await s.close();
  }
}

/** The k-th smallest value (0-based) without sorting: the value with <= k smaller and > k not larger. */
function kthByCounting(xs: number[], k: number): number {
  for (const x of xs) {
    const less = xs.filter((y) => y < x).length;
    const notMore = xs.filter((y) => y <= x).length;
    if (less <= k && k < notMore) return x;
  }
  throw new Error("unreachable");
}

test("percentiles: linear interpolation between order statistics, as a counting brute force computes it", () => {
  // numpy.percentile([1, 2, 3, 4], [50, 90, 99]) = 2.5, 3.7, 3.97
  const d = distribution([4, 1, 3, 2]);
  assert.equal(d.p50, 2.5);
  assert.ok(Math.abs(d.p90! - 3.7) < 1e-12 && Math.abs(d.p99! - 3.97) < 1e-12);
  assert.deepEqual([d.count, d.mean, d.max], [4, 2.5, 4]);
  assert.deepEqual(distribution([]), { count: 0, mean: null, p50: null, p90: null, p99: null, max: null });
  const rnd = mulberry32(7);
  for (let trial = 0; trial < 200; trial++) {
    const n = 1 + Math.floor(rnd() * 12);
    const xs = Array.from({ length: n }, () => Math.floor(rnd() * 6) / 2); // ties on purpose
    const sorted = [...xs].sort((a, b) => a - b);
    for (const p of [0, 1, 50, 90, 99, 100]) {
      const h = ((n - 1) * p) / 100;
      const lo = kthByCounting(xs, Math.floor(h));
      const hi = kthByCounting(xs, Math.min(Math.floor(h) + 1, n - 1));
      const want = lo + (h - Math.floor(h)) * (hi - lo);
      assert.ok(Math.abs(percentileOfSorted(sorted, p)! - want) < 1e-12, `${xs.join(",")} p${p}`);
    }
  }
});

test("only 127.0.0.1 and localhost are driven; any other host is refused naming it", () => {
  assert.equal(localOrigin("http://127.0.0.1:8000/v1"), "http://127.0.0.1:8000");
  assert.equal(localOrigin("http://localhost:9"), "http://localhost:9");
  assert.throws(() => localOrigin("http://example.com:8000"), /only talks to 127.0.0.1 or localhost, not example.com/);
  assert.throws(() => localOrigin("http://10.0.0.1:8000"), /not 10.0.0.1/);
  assert.throws(() => localOrigin("https://127.0.0.1:8000"), /only http:/);
  assert.throws(() => localOrigin("127.0.0.1:8000"), /not a URL|only http/);
});

test("SSE: events split across network pieces are reassembled; CRLF and a missing final blank line too", () => {
  const r = new SseReader();
  const enc = (s: string) => new TextEncoder().encode(s);
  assert.deepEqual(r.push(enc('data: {"a"')), []);
  assert.deepEqual(r.push(enc(":1}\r\n\r\ndata: [DO")), ['{"a":1}']);
  assert.deepEqual(r.push(enc("NE]")), []);
  assert.deepEqual(r.end(), ["[DONE]"]);
});

test("exact counts: every request answered, tokens from usage, prompts cycled, body as the OpenAI API wants", async () => {
  await withFake({ tokens: 5, firstMs: 5, gapMs: 2 }, async (s) => {
    const run = await runLoad(spec(s.url, { count: 7, shape: { kind: "concurrency", concurrency: 3 } }));
    const sum = summariseLoad(run, 7);
    assert.equal(s.seen.requests, 7);
    assert.deepEqual(sum.requests, { planned: 7, ok: 7, aborted: 0, cut: 0, failed: 0, not_sent: 0 });
    assert.equal(sum.complete, true);
    assert.equal(sum.output_tokens, 35);
    assert.deepEqual(sum.output_tokens_from, { usage: 7, chunks: 0 });
    assert.equal(sum.itl_s.count, 7 * 4);
    assert.deepEqual(
      run.records.map((r) => r.prompt_index),
      [0, 1, 2, 0, 1, 2, 0],
    );
    assert.equal(new Set(run.records.map((r) => r.response_id)).size, 7);
    assert.ok(run.records.every((r) => /^cmpl-fake\d+$/.test(r.response_id!) && r.prompt_tokens === 7));
    const b = s.seen.bodies[0]!;
    assert.deepEqual(
      [b.model, b.stream, b.stream_options, b.max_tokens, typeof b.prompt],
      ["fake", true, { include_usage: true }, 16, "string"],
    );
  });
});

test("without a usage chunk, output tokens are the token chunks, and the summary says so", async () => {
  await withFake({ tokens: 4, firstMs: 2, gapMs: 1, noUsage: true }, async (s) => {
    const sum = summariseLoad(await runLoad(spec(s.url, { count: 3 })), 3);
    assert.equal(sum.output_tokens, 12);
    assert.deepEqual(sum.output_tokens_from, { usage: 0, chunks: 3 });
  });
});

test("chat: messages sent, the role-only first chunk is not a token, ids are chatcmpl-", async () => {
  await withFake({ tokens: 3, firstMs: 60, gapMs: 5 }, async (s) => {
    const run = await runLoad(
      spec(s.url, { count: 2, settings: { ...spec("").settings, endpoint: "chat", ignoreEos: true } }),
    );
    assert.ok(run.records.every((r) => r.status === "ok" && r.token_chunks === 3 && /^chatcmpl-/.test(r.response_id!)));
    // the role chunk comes at once; the first content after 60 ms
    assert.ok(
      run.records.every((r) => r.ttft_s! >= 0.055),
      JSON.stringify(run.records.map((r) => r.ttft_s)),
    );
    assert.deepEqual(s.seen.bodies[0]!.messages, [{ role: "user", content: "one" }]);
    assert.equal(s.seen.bodies[0]!.ignore_eos, true);
  });
});

test("a chunk whose text is empty is still a step: TTFT and ITL from every chunk, both endpoints", async () => {
  // vLLM 0.20.2 with dummy weights streamed only "" texts; counting only non-empty text left every TTFT n/a
  for (const endpoint of ["completions", "chat"] as const) {
    await withFake({ tokens: 4, firstMs: 40, gapMs: 5, emptyText: true }, async (s) => {
      const run = await runLoad(spec(s.url, { count: 3, settings: { ...spec("").settings, endpoint } }));
      const sum = summariseLoad(run, 3);
      assert.ok(
        run.records.every((r) => r.status === "ok" && r.token_chunks === 4 && r.ttft_s! >= 0.035),
        `${endpoint}: ${JSON.stringify(run.records.map((r) => [r.token_chunks, r.ttft_s]))}`,
      );
      assert.equal(sum.ttft_s.count, 3);
      assert.equal(sum.itl_s.count, 3 * 3);
    });
  }
});

test("timing math: TTFT, every ITL and end-to-end match the server's fixed delays", async () => {
  const [first, gap, tokens] = [120, 40, 6];
  await withFake({ tokens, firstMs: first, gapMs: gap }, async (s) => {
    // untimed warm-up: the first requests of a process pay ~40 ms more (connections, JIT), measured
    await runLoad(spec(s.url, { count: 2 }));
    const sum = summariseLoad(await runLoad(spec(s.url, { count: 4 })), 4);
    const tol = 0.04; // 40 ms: timers on a shared 2-core machine (load average 7 when measured)
    assert.equal(sum.ttft_s.count, 4);
    assert.equal(sum.itl_s.count, 4 * (tokens - 1));
    assert.ok(
      sum.ttft_s.p50! >= first / 1000 - 0.002 && sum.ttft_s.p50! < first / 1000 + tol,
      `ttft ${sum.ttft_s.p50}`,
    );
    assert.ok(Math.abs(sum.itl_s.p50! - gap / 1000) < tol / 2, `itl p50 ${sum.itl_s.p50}`);
    assert.ok(sum.itl_s.max! < gap / 1000 + tol && sum.itl_s.p50! >= gap / 1000 - 0.002);
    const e2e = (first + (tokens - 1) * gap) / 1000;
    assert.ok(Math.abs(sum.e2e_s.p50! - e2e) < tol, `e2e ${sum.e2e_s.p50} vs ${e2e}`);
    assert.ok(Math.abs(sum.tpot_s.p50! - gap / 1000) < tol / 2);
    // two at a time, 4 requests: two waves
    assert.ok(Math.abs(sum.wall_s - 2 * e2e) < 2 * tol, `wall ${sum.wall_s}`);
    assert.ok(Math.abs(sum.output_tokens_per_s - (4 * tokens) / sum.wall_s) < 1e-9);
    assert.ok(Math.abs(sum.requests_per_s - 4 / sum.wall_s) < 1e-9);
  });
});

test("--abort-fraction: exactly that many requests disconnect mid-stream; the server sees each disconnect", async () => {
  await withFake({ tokens: 20, firstMs: 5, gapMs: 10 }, async (s) => {
    const run = await runLoad(
      spec(s.url, {
        count: 8,
        abortFraction: 0.5,
        abortAfterTokenChunks: 2,
        shape: { kind: "concurrency", concurrency: 4 },
      }),
    );
    const sum = summariseLoad(run, 8);
    assert.deepEqual([sum.requests.ok, sum.requests.aborted, sum.requests.failed], [4, 4, 0]);
    assert.equal(sum.complete, true, "disconnects the load asked for are part of a complete load");
    assert.ok(
      run.records
        .filter((r) => r.status === "aborted")
        .every((r) => r.token_chunks === 2 && r.tokens_from === "chunks"),
    );
    assert.equal(sum.output_tokens, 4 * 20, "aborted requests' tokens are not counted as output");
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(s.seen.disconnected, 4);
    assert.equal(s.seen.finished, 4);
  });
});

test("a server that dies mid-run: no more requests sent, failures counted, the load marked incomplete", async () => {
  await withFake({ tokens: 10, firstMs: 20, gapMs: 20, dieAfterRequests: 3 }, async (s) => {
    const t0 = Date.now();
    const run = await runLoad(spec(s.url, { count: 40 }));
    const sum = summariseLoad(run, 40);
    assert.ok(Date.now() - t0 < 5_000);
    assert.equal(run.stopped_by, "server-gone");
    assert.equal(sum.complete, false);
    assert.ok(sum.requests.failed >= 1 && sum.requests.not_sent > 0, JSON.stringify(sum.requests));
    assert.equal(
      sum.requests.ok + sum.requests.failed + sum.requests.not_sent + sum.requests.cut + sum.requests.aborted,
      40,
    );
    const f = run.records.find((r) => r.status === "failed")!;
    assert.ok(f.connection_lost && f.error, f.error ?? "");
  });
});

test("the time limit stops the load: requests in flight are cut, the rest never sent", async () => {
  await withFake({ tokens: 1000, firstMs: 5, gapMs: 20 }, async (s) => {
    const t0 = Date.now();
    const run = await runLoad(spec(s.url, { count: 10, timeLimitS: 0.4 }));
    const sum = summariseLoad(run, 10);
    assert.ok(Date.now() - t0 < 2_000, `${Date.now() - t0} ms`);
    assert.equal(run.stopped_by, "time-limit");
    assert.deepEqual([sum.requests.cut, sum.requests.not_sent, sum.complete], [2, 8, false]);
  });
});

test("Poisson arrivals: seeded, exponential gaps with mean 1/rate; rate mode spaces requests out", async () => {
  const a = poissonArrivals(4000, 20, mulberry32(3));
  assert.deepEqual(a.slice(0, 5), poissonArrivals(5, 20, mulberry32(3)));
  const gaps = a.map((t, i) => t - (i ? a[i - 1]! : 0));
  const mean = gaps.reduce((x, y) => x + y, 0) / gaps.length;
  assert.ok(Math.abs(mean - 0.05) < 0.0025, `mean gap ${mean}`);
  // exponential: P(gap > mean) = e^-1
  const over = gaps.filter((g) => g > 0.05).length / gaps.length;
  assert.ok(Math.abs(over - Math.exp(-1)) < 0.03, `share over the mean ${over}`);
  assert.equal(abortedIndices(10, 0.3, mulberry32(1)).size, 3);
  await withFake({ tokens: 2, firstMs: 1, gapMs: 1 }, async (s) => {
    const run = await runLoad(spec(s.url, { count: 5, shape: { kind: "rate", rate: 10, maxConcurrency: Infinity } }));
    const want = poissonArrivals(
      5,
      10,
      (() => {
        const r = mulberry32(1);
        abortedIndices(5, 0, r);
        return r;
      })(),
    );
    run.records.forEach((r, i) =>
      assert.ok(r.sent_at_s >= want[i]! - 0.002 && r.sent_at_s < want[i]! + 0.1, `${r.sent_at_s} vs ${want[i]}`),
    );
  });
});
