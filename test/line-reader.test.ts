import { test } from "node:test";
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import path from "node:path";
import { readLines } from "../src/routes/line-reader.js";
import { tempDir } from "./helpers.js";

async function collect(file: string, max: number) {
  const lines: [string, number, boolean][] = [];
  const bad: [number, string][] = [];
  await readLines(
    file,
    { stopped: false, line: (t, n, term) => lines.push([t, n, term]), unreadable: (n, w) => bad.push([n, w]) },
    max,
  );
  return { lines, bad };
}

test("lines split across chunks, multi-byte characters across chunk edges, CRLF, no final newline", async () => {
  const text = Array.from({ length: 200 }, (_, i) => `{"i":${i},"s":"${"é😀".repeat(i % 7)}"}`).join("\n") + "\r\nlast";
  const file = path.join(tempDir(), "x.jsonl");
  writeFileSync(file, text);
  // A 64-byte limit also makes the chunks 64 bytes, so most lines and characters straddle chunks.
  const { lines, bad } = await collect(file, 64);
  assert.deepEqual(bad, []);
  const expected = text.split("\n");
  assert.deepEqual(
    lines.map((l) => l[0]),
    expected,
  );
  assert.deepEqual(
    lines.map((l) => l[1]),
    expected.map((_, i) => i + 1),
  );
  assert.deepEqual(
    lines.map((l) => l[2]),
    expected.map((_, i) => i < expected.length - 1),
  );
});

test("an overlong line is skipped without buffering it, and reading goes on", async () => {
  const file = path.join(tempDir(), "x.jsonl");
  writeFileSync(file, `short\n${"y".repeat(10_000)}\nafter\n${"z".repeat(300)}`);
  const { lines, bad } = await collect(file, 128);
  assert.deepEqual(
    lines.map((l) => [l[0], l[1]]),
    [
      ["short", 1],
      ["after", 3],
    ],
  );
  assert.deepEqual(bad, [
    [2, "line longer than 128 bytes"],
    [4, "line longer than 128 bytes"],
  ]);
});

test("invalid UTF-8 is reported per line; the other lines of the chunk still arrive", async () => {
  const file = path.join(tempDir(), "x.jsonl");
  writeFileSync(
    file,
    Buffer.concat([Buffer.from("ok1\n"), Buffer.from([0x61, 0xc3, 0x28, 0x0a]), Buffer.from("ok3\n")]),
  );
  const { lines, bad } = await collect(file, 1 << 20);
  assert.deepEqual(
    lines.map((l) => l[0]),
    ["ok1", "ok3"],
  );
  assert.deepEqual(bad, [[2, "not valid UTF-8"]]);
});
