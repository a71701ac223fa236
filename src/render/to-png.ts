// Vega-Lite spec -> Vega view -> node-canvas -> PNG bytes. No browser.
import { compile, type TopLevelSpec } from "vega-lite";
import { View, parse } from "vega";
import { envError } from "../errors.js";

export async function specToPng(spec: TopLevelSpec): Promise<Buffer> {
  const vgSpec = compile(spec).spec;
  const view = new View(parse(vgSpec), { renderer: "none", logLevel: 0 });
  try {
    // vega-canvas loads node-canvas lazily; without it toCanvas has nothing to draw on.
    const canvas = (await view.toCanvas()) as unknown as {
      toBuffer?: (done: (err: Error | null, png: Buffer) => void, mime: "image/png") => void;
    };
    if (typeof canvas?.toBuffer !== "function")
      throw envError("rendering needs the `canvas` package (npm ci builds it; see README)");
    // With a callback, node-canvas encodes the PNG on libuv's thread pool: other pictures draw meanwhile.
    const toBuffer = canvas.toBuffer.bind(canvas);
    return await new Promise<Buffer>((resolve, reject) =>
      toBuffer((err, png) => (err ? reject(err) : resolve(png)), "image/png"),
    );
  } finally {
    view.finalize();
  }
}
