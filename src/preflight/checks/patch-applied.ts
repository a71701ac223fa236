import { envError } from "../../errors.js";
import type { PythonFacts } from "../probe.js";
import { locateVllm } from "../../patch/locate-vllm.js";
import { inspectPatch, loadPatch } from "../../patch/vllm-patch.js";

/** The log pass needs the moe-prof patch in the vLLM that the worker imports. */
export async function checkPatchApplied(f: PythonFacts): Promise<void> {
  const install = await locateVllm(f.executable);
  const { state, files } = await inspectPatch(install.root, await loadPatch(install.supported));
  if (state === "applied") return;
  if (state === "other-version")
    throw envError(
      `vLLM in ${install.root} carries another moe-prof version's patch: run \`moe-prof patch apply --python ${f.executable}\` to replace it`,
    );
  if (state === "not-applied" || state === "partial")
    throw envError(
      `the moe-prof patch is not applied to vLLM in ${install.root}: run \`moe-prof patch apply --python ${f.executable}\``,
    );
  const changed = files.filter((x) => x.state === "conflicting").map((x) => x.path);
  throw envError(
    `vLLM in ${install.root} was changed by something other than moe-prof (${changed.join(", ")}): reinstall vllm==${install.version}, then \`moe-prof patch apply\``,
  );
}
