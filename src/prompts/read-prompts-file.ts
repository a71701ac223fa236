// --prompts FILE: JSONL (a string, or an object with prompt/question/text) or plain text, one per line.
import { readFileSync } from "node:fs";
import { isUtf8 } from "node:buffer";
import { UserError, EXIT_ENV, fsProblem } from "../errors.js";
import { problemError } from "../problems.js";

const FIELDS = ["prompt", "question", "text"] as const;

function promptFromJsonLine(line: string, file: string, lineNo: number): string {
  let row: unknown;
  try {
    row = JSON.parse(line);
  } catch {
    throw problemError(file, lineNo, null, "not valid JSON (a .jsonl prompts file needs one JSON value per line)");
  }
  if (typeof row === "string") return row;
  if (row && typeof row === "object") {
    for (const f of FIELDS) {
      const v = (row as Record<string, unknown>)[f];
      if (typeof v === "string") return v;
    }
  }
  throw problemError(
    file,
    lineNo,
    FIELDS.join("|"),
    "expected a JSON string or an object with a string prompt, question or text",
  );
}

export function parsePromptsFile(text: string, file: string, limit: number): string[] {
  const isJsonl = /\.jsonl?$/i.test(file);
  const prompts: string[] = [];
  const lines = text.replace(/^\uFEFF/, "").split("\n"); // a UTF-8 byte-order mark is not a prompt
  for (let i = 0; i < lines.length && prompts.length < limit; i++) {
    const line = lines[i]!.replace(/\r$/, "");
    if (line.trim() === "") continue;
    const p = isJsonl ? promptFromJsonLine(line, file, i + 1) : line;
    if (p.trim() === "") throw problemError(file, i + 1, null, "empty prompt");
    prompts.push(p);
  }
  if (prompts.length === 0) throw problemError(file, null, null, "contains no prompts");
  return prompts;
}

/** A binary file (an image, a model file) would otherwise become "prompts" of mojibake. */
function refuseBinary(bytes: Buffer, file: string): void {
  const nul = bytes.indexOf(0);
  const bad = nul !== -1 ? nul : isUtf8(bytes) ? -1 : firstInvalidUtf8(bytes);
  if (bad === -1) return;
  let line = 1;
  for (let i = bytes.indexOf(10); i !== -1 && i < bad; i = bytes.indexOf(10, i + 1)) line++;
  const what = nul !== -1 ? "a NUL byte" : "bytes that are not UTF-8";
  throw problemError(
    file,
    line,
    null,
    `not a text file (${what}): --prompts takes JSONL or plain UTF-8 text, one prompt per line`,
  );
}

function firstInvalidUtf8(bytes: Buffer): number {
  // Line by line, so that the message can name the line.
  let start = 0;
  for (let nl = bytes.indexOf(10); ; nl = bytes.indexOf(10, start)) {
    const end = nl === -1 ? bytes.length : nl;
    if (!isUtf8(bytes.subarray(start, end))) return start;
    if (nl === -1) return bytes.length;
    start = nl + 1;
  }
}

export function readPromptsFile(file: string, limit: number): string[] {
  let bytes: Buffer;
  try {
    bytes = readFileSync(file);
  } catch (err) {
    throw new UserError(`${file}: cannot read prompts file: ${fsProblem(err)}`, EXIT_ENV);
  }
  refuseBinary(bytes, file);
  return parsePromptsFile(bytes.toString("utf8"), file, limit);
}
