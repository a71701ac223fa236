// Progress while a long analysis reads its log: a bar on stderr when stderr is a terminal (a real
// pseudo-terminal through script(1), or MOE_PROF_PROGRESS=1), nothing at all on a pipe, and the
// results the same either way.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import path from "node:path";
import { execa } from "execa";
import { writeSynthRoutes, DEFAULT_SYNTH } from "../scripts/synth-routes.js";
import { scanProgress } from "../src/commands/scan-progress.js";
import { CLI, tempDir } from "./helpers.js";

function synth(): string {
  const f = path.join(tempDir(), "moe_routes.jsonl");
  writeSynthRoutes(f, { ...DEFAULT_SYNTH, seed: 9, requests: 4, batch: 4, layers: 4, experts: 16 });
  return f;
}

const COMMANDS = (log: string): string[][] => [
  ["hist", log],
  ["cache", log, "--capacities", "2,4"],
  ["place", log, "--gpus", "2"],
  ["export", log, "--format", "eplb"],
  ["compare", log, log],
];

test("on a pipe: no progress at all; MOE_PROF_PROGRESS=1: a bar that ends at 100% and is cleared, same stdout", async () => {
  const log = synth();
  for (const c of COMMANDS(log)) {
    const out = tempDir();
    const plain = await execa(process.execPath, [CLI, ...c, "--out", out, "--json"], {
      reject: false,
      env: { MOE_PROF_PROGRESS: undefined },
    });
    assert.equal(plain.exitCode, 0, plain.stderr);
    assert.equal(plain.stderr, "", `${c[0]}: stderr of a pipe`);
    const bar = await execa(process.execPath, [CLI, ...c, "--out", out, "--json"], {
      reject: false,
      env: { MOE_PROF_PROGRESS: "1" },
    });
    assert.equal(bar.exitCode, 0, bar.stderr);
    const CLEAR = "\r\x1b[2K";
    assert.ok(bar.stderr.startsWith(CLEAR), c[0]);
    assert.match(bar.stderr, /reading \S*moe_routes\.jsonl: \[#+\] 100% of \d+\.\d MB/, c[0]);
    assert.ok(bar.stderr.endsWith(CLEAR), `${c[0]}: the bar is cleared`);
    assert.equal(bar.stdout, plain.stdout, c[0]);
  }
});

test("a real terminal (script(1)'s pseudo-terminal) gets the bar; MOE_PROF_PROGRESS=0 turns it off", (t) => {
  if (spawnSync("script", ["--version"]).status !== 0) return t.skip("script(1) not installed");
  const log = synth();
  const run = (env: Record<string, string>) =>
    spawnSync(
      "script",
      ["-qec", `${process.execPath} ${CLI} cache ${log} --capacities 4 --out ${tempDir()}`, "/dev/null"],
      {
        encoding: "utf8",
        env: { ...process.env, MOE_PROF_PROGRESS: "", ...env },
      },
    );
  const on = run({});
  assert.equal(on.status, 0, on.stdout);
  assert.match(on.stdout, /reading \S*moe_routes\.jsonl: \[#+\] 100%/);
  const off = run({ MOE_PROF_PROGRESS: "0" });
  assert.equal(off.status, 0);
  assert.doesNotMatch(off.stdout, /reading /);
});

test("with no known size (stdin) the bar counts megabytes read", () => {
  let text = "";
  const out = { isTTY: true, write: (s: string) => ((text += s), true) } as unknown as NodeJS.WriteStream;
  const p = scanProgress("reading <stdin>", out)!;
  p.update(2_500_000, null);
  p.end();
  assert.equal(text, "\r\x1b[2Kreading <stdin>: 2.5 MB read\r\x1b[2K");
  assert.equal(scanProgress("x", { isTTY: false } as NodeJS.WriteStream), null);
});
