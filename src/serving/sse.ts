// Server-sent events as OpenAI-compatible servers stream them: `data: <json>` lines, events
// separated by a blank line, `data: [DONE]` at the end. Bytes arrive in arbitrary pieces; each
// complete event is handed over with the arrival time of the piece that completed it.

export const SSE_DONE = "[DONE]";

export class SseReader {
  private readonly decoder = new TextDecoder();
  private buffer = "";
  private data: string[] = [];

  /** Feed one network chunk; returns the data payloads of the events it completed. */
  push(bytes: Uint8Array): string[] {
    this.buffer += this.decoder.decode(bytes, { stream: true });
    const out: string[] = [];
    let nl: number;
    while ((nl = this.buffer.indexOf("\n")) >= 0) {
      const line = this.buffer.slice(0, nl).replace(/\r$/, "");
      this.buffer = this.buffer.slice(nl + 1);
      if (line === "") {
        if (this.data.length) out.push(this.data.join("\n"));
        this.data = [];
      } else if (line.startsWith("data:")) {
        this.data.push(line.slice(5).replace(/^ /, ""));
      } // comments (":"), event:, id:, retry: carry nothing the benchmark reads
    }
    return out;
  }

  /** Whatever the stream ended with and no blank line closed (a server that stops mid-event). */
  end(): string[] {
    this.buffer += this.decoder.decode();
    const rest = this.push(new TextEncoder().encode("\n\n"));
    return rest;
  }
}
