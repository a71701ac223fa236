// --dataset-url: fetch a GSM8K-style JSONL with undici, saved into the run's directory.
import { writeFile } from "node:fs/promises";
import { fetch } from "undici";
import { UserError, EXIT_ENV } from "../errors.js";

const MAX_BYTES = 64 * 1024 * 1024;

export async function downloadDataset(url: string, dest: string, timeoutMs = 30_000): Promise<void> {
  let res;
  try {
    res = await fetch(url, { redirect: "follow", signal: AbortSignal.timeout(timeoutMs) });
  } catch (err) {
    const cause = (err as { cause?: { code?: string } }).cause?.code ?? (err as Error).name;
    throw new UserError(
      `--dataset-url ${url}: download failed (${cause}); are you online? Leave out --dataset-url to use the bundled GSM8K split`,
      EXIT_ENV,
    );
  }
  if (res.status !== 200) throw new UserError(`--dataset-url ${url}: server answered HTTP ${res.status}`, EXIT_ENV);
  const body = Buffer.from(await res.arrayBuffer());
  if (body.length > MAX_BYTES) throw new UserError(`--dataset-url ${url}: larger than ${MAX_BYTES} bytes`, EXIT_ENV);
  await writeFile(dest, body);
}
