// Child process that draws hist's pictures. It loads vega, vega-lite and canvas as soon as it
// starts, so that loading overlaps the scan of the log, then draws what it is sent and answers
// with the PNG bytes (hist publishes them with summary.json as one output set).
// A process, not a worker thread: node-canvas crashes when a worker thread that loaded it exits.
import type { HistSummary } from "../analysis/summary.js";
import { UserError } from "../errors.js";

const ready = import("./hist-pictures.js");

process.on("message", (m: { summary: HistSummary }) => void answer(m));

async function answer(m: { summary: HistSummary }): Promise<void> {
  let reply: object;
  try {
    const { histPictureFiles } = await ready;
    reply = { files: await histPictureFiles(m.summary) };
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    reply = {
      error: e instanceof Error ? e.message : String(e),
      exitCode: e instanceof UserError ? e.exitCode : null,
      code: code ?? null,
    };
  }
  // Disconnect once the answer is on its way: a large one (the PNG bytes) is still being written
  // when send() returns, and disconnecting then drops it.
  process.send!(reply, () => process.disconnect());
}
