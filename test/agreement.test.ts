// validate and hist agree on every log the tests know (test/log-corpus.ts): the same exit code,
// and for a refused log the same one-line message. hist reads large logs on two threads and
// validate never does, so the corpus holds large logs too.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execa } from "execa";
import pLimit from "p-limit";
import { CLI, tempDir } from "./helpers.js";
import { buildCorpus } from "./log-corpus.js";

const cli = (args: string[]) => execa(process.execPath, [CLI, ...args], { reject: false, timeout: 120_000 });

test("validate and hist accept and refuse the same logs, with the same message", { timeout: 600_000 }, async () => {
  const corpus = buildCorpus();
  const limit = pLimit(3);
  const results = await Promise.all(
    corpus.map((log) =>
      limit(async () => {
        const [v, h] = [await cli(["validate", log.file]), await cli(["hist", log.file, "--out", tempDir(), "--json"])];
        return { log, v, h };
      }),
    ),
  );
  const codes = new Map<number, number>();
  for (const { log, v, h } of results) {
    assert.equal(
      h.exitCode,
      v.exitCode,
      `${log.name}: validate exit ${v.exitCode} (${v.stderr}), hist exit ${h.exitCode} (${h.stderr})`,
    );
    codes.set(v.exitCode!, (codes.get(v.exitCode!) ?? 0) + 1);
    if (v.exitCode === 0) continue;
    assert.equal(
      h.stderr
        .split("\n")
        .filter((l) => l.startsWith("moe-prof: "))
        .join("\n"),
      v.stderr,
      `${log.name}: messages differ`,
    );
    assert.equal(v.stderr.split("\n").length, 1, `${log.name}: ${v.stderr}`);
    assert.doesNotMatch(v.stderr + h.stderr, /internal error|\n\s+at /, log.name);
  }
  // the corpus exercises all three outcomes
  assert.ok(
    (codes.get(0) ?? 0) >= 8 && (codes.get(1) ?? 0) >= 40 && (codes.get(2) ?? 0) >= 2,
    JSON.stringify([...codes]),
  );
});
