// A fake OpenAI-compatible server for the load generator's tests: node:http on 127.0.0.1, port 0.
// It streams `tokens` chunks per request, the first after `firstMs`, then one every `gapMs`, so
// that TTFT and ITL are known; it counts what it saw (requests, streams finished, disconnects).
import http from "node:http";
import type { AddressInfo } from "node:net";

export interface FakeOptions {
  tokens: number;
  firstMs: number;
  gapMs: number;
  /** Every chunk carries "" as its text, as vLLM streams steps whose ids decode to nothing. */
  emptyText?: boolean;
  /** Leave the final usage chunk out (the client must then count chunks). */
  noUsage?: boolean;
  /** After this many requests have started, the server drops every connection and stops. */
  dieAfterRequests?: number;
}

export interface FakeServer {
  url: string;
  seen: { requests: number; finished: number; disconnected: number; bodies: Record<string, unknown>[] };
  close: () => Promise<void>;
}

export async function startFakeOpenAI(o: FakeOptions): Promise<FakeServer> {
  const seen: FakeServer["seen"] = { requests: 0, finished: 0, disconnected: 0, bodies: [] };
  let next = 0;
  let dead = false;
  const server = http.createServer((req, res) => {
    if (req.url === "/health") return void res.writeHead(200).end();
    const chat = req.url === "/v1/chat/completions";
    if (req.method !== "POST" || !(chat || req.url === "/v1/completions")) return void res.writeHead(404).end();
    let raw = "";
    req.on("data", (d: Buffer) => (raw += d.toString()));
    req.on("end", () => {
      seen.requests++;
      seen.bodies.push(JSON.parse(raw) as Record<string, unknown>);
      const id = `${chat ? "chatcmpl" : "cmpl"}-fake${next++}`;
      res.writeHead(200, { "content-type": "text/event-stream" });
      const send = (x: unknown) => res.write(`data: ${typeof x === "string" ? x : JSON.stringify(x)}\n\n`);
      if (chat) send({ id, choices: [{ index: 0, delta: { role: "assistant", content: "" } }] });
      let sent = 0;
      let timer: NodeJS.Timeout;
      res.on("close", () => {
        clearTimeout(timer);
        if (!res.writableFinished) seen.disconnected++;
      });
      const tick = () => {
        if (res.destroyed) return;
        const text = o.emptyText ? "" : ` t${sent}`;
        send({ id, choices: [chat ? { index: 0, delta: { content: text } } : { index: 0, text }] });
        if (++sent < o.tokens) return void (timer = setTimeout(tick, o.gapMs));
        if (!o.noUsage) send({ id, choices: [], usage: { prompt_tokens: 7, completion_tokens: o.tokens } });
        send("[DONE]");
        res.end(() => seen.finished++);
      };
      timer = setTimeout(tick, o.firstMs);
      if (o.dieAfterRequests !== undefined && seen.requests >= o.dieAfterRequests && !dead) {
        dead = true;
        setTimeout(() => {
          server.close();
          server.closeAllConnections();
        }, o.firstMs + o.gapMs);
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    seen,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}
