// Weight bytes of a Qwen2-MoE / Mixtral / OLMoE style config.json, for the memory preflight.
import { readFileSync } from "node:fs";
import path from "node:path";

interface MoeConfig {
  vocab_size: number;
  hidden_size: number;
  num_hidden_layers: number;
  num_attention_heads: number;
  num_key_value_heads?: number;
  intermediate_size?: number;
  moe_intermediate_size?: number;
  shared_expert_intermediate_size?: number;
  num_experts?: number;
  num_local_experts?: number;
  tie_word_embeddings?: boolean;
}

export function estimateParams(c: MoeConfig): number {
  const H = c.hidden_size;
  const kvDim = ((c.num_key_value_heads ?? c.num_attention_heads) * H) / c.num_attention_heads;
  const experts = c.num_experts ?? c.num_local_experts ?? 0;
  const expertI = c.moe_intermediate_size ?? c.intermediate_size ?? 0;
  const attn = 2 * H * H + 2 * H * kvDim;
  const moe = experts * 3 * H * expertI + H * experts;
  const shared = c.shared_expert_intermediate_size ? 3 * H * c.shared_expert_intermediate_size + H : 0;
  const embed = c.vocab_size * H * (c.tie_word_embeddings ? 1 : 2);
  return embed + c.num_hidden_layers * (attn + moe + shared);
}

/** Bytes of bf16 weights for the config in `dir`, or null when it cannot be read. */
export function weightBytesFromConfigDir(dir: string, bytesPerParam = 2): number | null {
  try {
    const c = JSON.parse(readFileSync(path.join(dir, "config.json"), "utf8")) as MoeConfig;
    const n = estimateParams(c);
    return Number.isFinite(n) && n > 0 ? n * bytesPerParam : null;
  } catch {
    return null;
  }
}
