// GSM8K JSONL ({"question", "answer"} per line): the bundled fixture or a downloaded copy.
import { readFileSync } from "node:fs";
import path from "node:path";
import { UserError, EXIT_ENV } from "../errors.js";
import { problemError } from "../problems.js";
import { packageRoot } from "../config/package-info.js";

export function bundledGsm8kPath(): string {
  return path.join(packageRoot(), "fixtures", "gsm8k", "test.jsonl");
}

/** The first `count` questions; every line up to there must be an object with a string question. */
export function parseGsm8k(text: string, file: string, count: number): string[] {
  const questions: string[] = [];
  const lines = text.replace(/^\uFEFF/, "").split("\n"); // a UTF-8 byte-order mark is not JSON
  for (let i = 0; i < lines.length && questions.length < count; i++) {
    const line = lines[i]!.trim();
    if (line === "") continue;
    let row: unknown;
    try {
      row = JSON.parse(line);
    } catch {
      throw problemError(file, i + 1, null, "not valid JSON");
    }
    const q = (row as { question?: unknown } | null)?.question;
    if (typeof q !== "string" || q.trim() === "")
      throw problemError(file, i + 1, "question", "expected a non-empty string");
    questions.push(q);
  }
  // Asking for more prompts than the set holds is a usage error (exit 2), not a bad file.
  if (questions.length < count)
    throw new UserError(
      `--num-prompts ${count}: ${file} has only ${questions.length} question${questions.length === 1 ? "" : "s"}`,
      EXIT_ENV,
    );
  return questions;
}

export function readGsm8k(file: string, count: number): string[] {
  return parseGsm8k(readFileSync(file, "utf8"), file, count);
}
