// The run that needs no GPU, as one command to paste: the transformers engine on the CPU with the
// bundled tiny Qwen2-MoE and tokenizer (what CI runs end to end). The "no CUDA GPU" preflight
// failure points to it.
import { packagePath } from "./package-info.js";

export function cpuRunCommand(): string {
  const model = (name: string) => packagePath("fixtures", "models", name);
  return `moe-prof run --engine hf --device cpu --random-weights --config ${model("tiny-qwen2-moe")} --tokenizer ${model("qwen1.5-moe-a2.7b")} --num-prompts 4 --max-tokens 12`;
}
