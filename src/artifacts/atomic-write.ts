// Results appear whole or not at all: write a temp file beside the target, then rename over it.
import { writeFile, rename, rm } from "node:fs/promises";
import path from "node:path";

export async function writeFileAtomic(target: string, data: string | Uint8Array): Promise<void> {
  const tmp = path.join(path.dirname(target), `.${path.basename(target)}.${process.pid}.${Date.now()}.tmp`);
  try {
    await writeFile(tmp, data, { flush: true });
    await rename(tmp, target);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}
