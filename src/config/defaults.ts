// Defaults that option help texts show, in a module without dependencies (start-up loads it).
export const DEFAULT_MODEL = "Qwen/Qwen1.5-MoE-A2.7B-Chat-GPTQ-Int4";
