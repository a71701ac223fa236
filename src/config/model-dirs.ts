// --config and --tokenizer name directories that the hf engine reads only once torch and
// transformers have loaded (45 s on a CPU): what is missing there is refused before anything starts.
import { existsSync, statSync } from "node:fs";
import path from "node:path";
import { envError } from "../errors.js";
import { packagePath } from "./package-info.js";

/** Any of these makes a directory one that transformers' AutoTokenizer can load. */
const TOKENIZER_FILES = ["tokenizer.json", "tokenizer_config.json", "tokenizer.model", "vocab.json"];

const isDirectory = (p: string) => existsSync(p) && statSync(p).isDirectory();

/** The hf engine's model directories, checked before any check or pass: --config holds a
 * config.json, and the tokenizer directory it will use (--tokenizer, else --config, else --model:
 * python/moe_prof/engines/hf_engine.py) holds a tokenizer. */
export function checkModelDirs(o: {
  engine: string;
  config?: string | undefined;
  tokenizer?: string | undefined;
}): void {
  if (o.engine !== "hf") return;
  if (o.config !== undefined && !existsSync(path.join(o.config, "config.json")))
    throw envError(
      `--config ${o.config}: ${isDirectory(o.config) ? "has no config.json" : "not a directory"} (it names a model directory with its config.json)`,
    );
  const hasTokenizer = (dir: string) => TOKENIZER_FILES.some((f) => existsSync(path.join(dir, f)));
  if (o.tokenizer !== undefined) {
    // not a directory here: a Hugging Face model id, which transformers resolves itself
    if (isDirectory(o.tokenizer) && !hasTokenizer(o.tokenizer))
      throw envError(`--tokenizer ${o.tokenizer}: has no tokenizer (none of ${TOKENIZER_FILES.join(", ")})`);
  } else if (o.config !== undefined && !hasTokenizer(o.config)) {
    throw envError(
      `--config ${o.config}: has no tokenizer, and without --tokenizer it is read from there: pass --tokenizer DIR, e.g. --tokenizer ${packagePath("fixtures", "models", "qwen1.5-moe-a2.7b")}`,
    );
  }
}
