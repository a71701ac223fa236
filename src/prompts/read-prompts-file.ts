// --prompts FILE: JSONL (a string, or an object with prompt/question/text) or plain text, one per line.
import { readFileSync } from "node:fs";
import { inputError, UserError, EXIT_ENV } from "../errors.js";

const FIELDS = ["prompt", "question", "text"] as const;

function promptFromJsonLine(line: string, file: string, lineNo: number): string {
  let row: unknown;
  try {
    row = JSON.parse(line);
  } catch {
    throw inputError(file, lineNo, null, "not valid JSON (a .jsonl prompts file needs one JSON value per line)");
  }
  if (typeof row === "string") return row;
  if (row && typeof row === "object") {
    for (const f of FIELDS) {
      const v = (row as Record<string, unknown>)[f];
      if (typeof v === "string") return v;
    }
  }
  throw inputError(file, lineNo, FIELDS.join("|"), "expected a JSON string or an object with a string prompt, question or text");
}

export function parsePromptsFile(text: string, file: string, limit: number): string[] {
  const isJsonl = /\.jsonl?$/i.test(file);
  const prompts: string[] = [];
  const lines = text.split("\n");
  for (let i = 0; i < lines.length && prompts.length < limit; i++) {
    const line = lines[i]!.replace(/\r$/, "");
    if (line.trim() === "") continue;
    const p = isJsonl ? promptFromJsonLine(line, file, i + 1) : line;
    if (p.trim() === "") throw inputError(file, i + 1, null, "empty prompt");
    prompts.push(p);
  }
  if (prompts.length === 0) throw inputError(file, null, null, "contains no prompts");
  return prompts;
}

export function readPromptsFile(file: string, limit: number): string[] {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    throw new UserError(`${file}: cannot read prompts file (${(err as NodeJS.ErrnoException).code ?? "error"})`, EXIT_ENV);
  }
  return parsePromptsFile(text, file, limit);
}
