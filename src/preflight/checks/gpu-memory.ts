import { envError } from "../../errors.js";
import type { PythonFacts } from "../probe.js";

const GiB = 1024 ** 3;
const fmt = (b: number) => `${(b / GiB).toFixed(1)} GiB`;

/**
 * vLLM reserves gpu_memory_utilization x total memory at start and fails if that much is not free;
 * transformers needs the weights plus room for activations and the KV cache.
 */
export function checkGpuMemory(
  f: PythonFacts,
  need: { engine: "vllm" | "hf"; gpuMemoryUtilization: number; weightBytes: number | null; tensorParallelSize: number },
): void {
  const devices = f.cuda?.devices ?? [];
  if (devices.length < need.tensorParallelSize)
    throw envError(
      `--tensor-parallel-size ${need.tensorParallelSize} needs ${need.tensorParallelSize} GPUs; torch sees ${devices.length}`,
    );
  for (const d of devices.slice(0, need.tensorParallelSize)) {
    if (need.engine === "vllm") {
      const want = need.gpuMemoryUtilization * d.total_bytes;
      if (d.free_bytes < want)
        throw envError(
          `GPU ${d.index} (${d.name}) has ${fmt(d.free_bytes)} free of ${fmt(d.total_bytes)}; vLLM needs ${fmt(want)} for --gpu-memory-utilization ${need.gpuMemoryUtilization}: free the GPU or lower --gpu-memory-utilization`,
        );
    } else if (need.weightBytes !== null) {
      const want = need.weightBytes * 1.15 + 2 * GiB;
      if (d.free_bytes < want)
        throw envError(
          `GPU ${d.index} (${d.name}) has ${fmt(d.free_bytes)} free; the model needs about ${fmt(want)} (weights ${fmt(need.weightBytes)} plus working memory): free the GPU or use a smaller model`,
        );
    }
  }
}
