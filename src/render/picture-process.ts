// Child process that draws hist's pictures. It loads vega, vega-lite and canvas as soon as it
// starts, so that loading overlaps the scan of the log, then draws and writes what it is sent.
// A process, not a worker thread: node-canvas crashes when a worker thread that loaded it exits.
import type { HistSummary } from "../analysis/summary.js";
import { UserError } from "../errors.js";

const ready = import("./hist-pictures.js");

process.on("message", async (m: { summary: HistSummary; outDir: string }) => {
  try {
    const { renderHistPictures } = await ready;
    process.send!({ files: await renderHistPictures(m.summary, m.outDir) });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    process.send!({ error: e instanceof Error ? e.message : String(e), exitCode: e instanceof UserError ? e.exitCode : null, code: code ?? null });
  }
  process.disconnect();
});
