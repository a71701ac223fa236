// One patch action on a site-packages directory, without the CLI's start-up (commander, the
// Python lookup): test/patch-crash.test.ts runs it once per step at which it is to be killed.
// Usage: node patch-driver.js apply|revert|check ROOT. Picked up by `node --test` with no
// arguments, it does nothing.
import { applyPatch, inspectPatch, loadPatch, revertPatch } from "../../src/patch/vllm-patch.js";
import { supportedVllm } from "../../src/patch/vllm-versions.js";

const [action, root] = process.argv.slice(2);
if (action && root) {
  const patches = await loadPatch(supportedVllm("0.15.1")!);
  const r =
    action === "apply"
      ? await applyPatch(root, patches)
      : action === "revert"
        ? await revertPatch(root, patches)
        : await inspectPatch(root, patches);
  process.stdout.write(JSON.stringify(r) + "\n");
}
