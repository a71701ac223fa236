import { test } from "node:test";
import assert from "node:assert/strict";
import { parseGsm8k, readGsm8k, bundledGsm8kPath } from "../src/prompts/read-gsm8k.js";
import { parsePromptsFile } from "../src/prompts/read-prompts-file.js";
import { loadPrompts } from "../src/prompts/load-prompts.js";
import { UserError } from "../src/errors.js";

const fails = (fn: () => unknown, msg: string) =>
  assert.throws(fn, (e: unknown) => e instanceof UserError && e.message === msg, msg);

test("the bundled GSM8K split starts with Janet's ducks and has 1319 questions", () => {
  const qs = readGsm8k(bundledGsm8kPath(), 1319);
  assert.equal(qs.length, 1319);
  assert.match(qs[0]!, /^Janet’s ducks lay 16 eggs per day/);
  assert.match(qs[24]!, /\?|\./);
});

test("default prompts: the first 25 questions", async () => {
  const set = await loadPrompts({ numPrompts: 25 });
  assert.equal(set.prompts.length, 25);
  assert.deepEqual(set.prompts, readGsm8k(bundledGsm8kPath(), 25));
});

test("GSM8K lines are checked with file:line:field", () => {
  fails(
    () => parseGsm8k('{"question":"a"}\n{"answer":"b"}\n', "g.jsonl", 2),
    "g.jsonl:2: question: expected a non-empty string",
  );
  fails(() => parseGsm8k('{"question":"a"}\n{oops\n', "g.jsonl", 2), "g.jsonl:2: not valid JSON");
  fails(() => parseGsm8k('{"question":"a"}\n', "g.jsonl", 3), "--num-prompts 3: g.jsonl has only 1 question");
  assert.throws(
    () => parseGsm8k('{"question":"a"}\n', "g.jsonl", 3),
    (e: unknown) => e instanceof UserError && e.exitCode === 2,
    "a usage error",
  );
});

test("prompts files: text lines, JSONL strings and objects", () => {
  assert.deepEqual(parsePromptsFile("one\r\n\ntwo\nthree\n", "p.txt", 2), ["one", "two"]);
  assert.deepEqual(parsePromptsFile('"a"\n{"prompt":"b"}\n{"question":"c"}\n{"text":"d"}\n', "p.jsonl", 10), [
    "a",
    "b",
    "c",
    "d",
  ]);
  fails(
    () => parsePromptsFile('{"q":1}\n', "p.jsonl", 5),
    "p.jsonl:1: prompt|question|text: expected a JSON string or an object with a string prompt, question or text",
  );
  fails(() => parsePromptsFile("\n\n", "p.txt", 5), "p.txt: contains no prompts");
  fails(
    () => parsePromptsFile('"a"\n[1\n', "p.jsonl", 5),
    "p.jsonl:2: not valid JSON (a .jsonl prompts file needs one JSON value per line)",
  );
});
