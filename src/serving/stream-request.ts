// One streaming OpenAI request, timed as a client sees it. A "token chunk" is a streamed chunk
// that carries a generation step: completions, any chunk whose first choice has a `text` field,
// empty or not; chat, any chunk with a choice except the opening role-only one. An empty text is
// still a step (a special or padding id, a partial UTF-8 character): with dummy weights vLLM 0.20.2
// streamed only empty texts (on the H100, 2026-12-05, every TTFT came out n/a), and `vllm bench
// serve` counts such chunks too. TTFT: request sent -> first token chunk; ITL: every gap between
// consecutive token chunks (a chunk may hold several tokens when the server batches its stream);
// end-to-end: request sent -> stream ended.
import type { Dispatcher } from "undici";
import { SseReader, SSE_DONE } from "./sse.js";

export type Endpoint = "completions" | "chat";

export const ENDPOINT_PATH: Record<Endpoint, string> = {
  completions: "/v1/completions",
  chat: "/v1/chat/completions",
};

export interface RequestSettings {
  endpoint: Endpoint;
  model: string;
  maxTokens: number;
  temperature: number;
  /** vLLM's extension: generate exactly maxTokens (no early stop), as benchmarks usually do. */
  ignoreEos: boolean;
}

/**
 * ok: the stream ended with [DONE]. aborted: this client disconnected on purpose (--abort-fraction).
 * cut: disconnected at the load's time limit. failed: HTTP error, error event, connection lost.
 */
export type RequestStatus = "ok" | "aborted" | "cut" | "failed";

export interface RequestRecord {
  index: number;
  prompt_index: number;
  status: RequestStatus;
  /** The OpenAI response `id` of the stream's chunks (null when no chunk arrived). */
  response_id: string | null;
  /** Seconds from the load's start to this request being sent. */
  sent_at_s: number;
  ttft_s: number | null;
  itl_s: number[];
  e2e_s: number | null;
  output_tokens: number;
  /** Where output_tokens came from: the server's final `usage` chunk, or a count of token chunks. */
  tokens_from: "usage" | "chunks";
  token_chunks: number;
  prompt_tokens: number | null;
  /** usage.prompt_tokens_details.cached_tokens: prompt tokens the prefix cache served (null: not said). */
  cached_tokens: number | null;
  /** The last finish_reason the stream gave ("length", "stop", ...), null if none. */
  finish_reason: string | null;
  error: string | null;
  /** True when the failure was the connection itself (refused, reset): the server is gone. */
  connection_lost: boolean;
}

export function requestBody(s: RequestSettings, prompt: string): Record<string, unknown> {
  const common = {
    model: s.model,
    max_tokens: s.maxTokens,
    temperature: s.temperature,
    stream: true,
    stream_options: { include_usage: true },
    ...(s.ignoreEos ? { ignore_eos: true } : {}),
  };
  return s.endpoint === "chat" ? { ...common, messages: [{ role: "user", content: prompt }] } : { ...common, prompt };
}

interface Chunk {
  id?: unknown;
  choices?: Array<{
    text?: unknown;
    delta?: { role?: unknown; content?: unknown; reasoning?: unknown; reasoning_content?: unknown };
    finish_reason?: unknown;
  }>;
  usage?: {
    completion_tokens?: unknown;
    prompt_tokens?: unknown;
    prompt_tokens_details?: { cached_tokens?: unknown } | null;
  } | null;
  error?: unknown;
}

function isTokenChunk(c: Chunk, endpoint: Endpoint): boolean {
  const choice = c.choices?.[0];
  if (!choice) return false; // the usage-only chunk (choices: [])
  if (endpoint === "completions") return typeof choice.text === "string";
  const d = choice.delta;
  if (!d) return false;
  const said = [d.content, d.reasoning, d.reasoning_content].some((p) => typeof p === "string" && p !== "");
  return d.role === undefined || said; // vLLM's opening chunk: role + content "", before any step
}

const CONNECTION_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "EPIPE",
  "UND_ERR_SOCKET",
  "UND_ERR_CLOSED",
  "UND_ERR_CONNECT_TIMEOUT",
]);

function errorCode(err: unknown): string | undefined {
  const e = err as { code?: unknown; cause?: { code?: unknown } };
  const code = typeof e?.code === "string" ? e.code : typeof e?.cause?.code === "string" ? e.cause.code : undefined;
  return code;
}

export interface SendOptions {
  index: number;
  promptIndex: number;
  prompt: string;
  /** Disconnect after this many token chunks (null: read to the end). */
  abortAfterTokenChunks: number | null;
  /** Aborted when the load's time limit passes. */
  cut: AbortSignal;
  /** performance.now() at the load's start. */
  loadStart: number;
}

export async function streamRequest(
  dispatcher: Dispatcher,
  settings: RequestSettings,
  o: SendOptions,
): Promise<RequestRecord> {
  const own = new AbortController();
  const signal = AbortSignal.any([own.signal, o.cut]);
  const sent = performance.now();
  const rec: RequestRecord = {
    index: o.index,
    prompt_index: o.promptIndex,
    status: "failed",
    response_id: null,
    sent_at_s: (sent - o.loadStart) / 1000,
    ttft_s: null,
    itl_s: [],
    e2e_s: null,
    output_tokens: 0,
    tokens_from: "chunks",
    token_chunks: 0,
    prompt_tokens: null,
    cached_tokens: null,
    finish_reason: null,
    error: null,
    connection_lost: false,
  };
  let usageTokens: number | null = null;
  let done = false;
  let last = 0;
  const onEvent = (data: string, at: number): void => {
    if (data === SSE_DONE) {
      done = true;
      return;
    }
    let c: Chunk;
    try {
      c = JSON.parse(data) as Chunk;
    } catch {
      throw new StreamProblem(`not JSON in the stream: ${data.slice(0, 80)}`);
    }
    if (c.error !== undefined && c.error !== null) {
      const m = (c.error as { message?: unknown }).message;
      throw new StreamProblem(`error event: ${typeof m === "string" ? m : JSON.stringify(c.error).slice(0, 120)}`);
    }
    if (typeof c.id === "string") rec.response_id ??= c.id;
    if (c.usage && typeof c.usage.completion_tokens === "number") {
      usageTokens = c.usage.completion_tokens;
      if (typeof c.usage.prompt_tokens === "number") rec.prompt_tokens = c.usage.prompt_tokens;
      const cached = c.usage.prompt_tokens_details?.cached_tokens;
      if (typeof cached === "number") rec.cached_tokens = cached;
    }
    const finish = c.choices?.[0]?.finish_reason;
    if (typeof finish === "string") rec.finish_reason = finish;
    if (!isTokenChunk(c, settings.endpoint)) return;
    if (rec.token_chunks === 0) rec.ttft_s = (at - sent) / 1000;
    else rec.itl_s.push((at - last) / 1000);
    last = at;
    rec.token_chunks++;
    if (o.abortAfterTokenChunks !== null && rec.token_chunks >= o.abortAfterTokenChunks) own.abort();
  };
  let body: { destroy: () => void } | null = null;
  try {
    const res = await dispatcher.request({
      path: ENDPOINT_PATH[settings.endpoint],
      method: "POST",
      headers: { "content-type": "application/json", accept: "text/event-stream" },
      body: JSON.stringify(requestBody(settings, o.prompt)),
      signal,
    });
    body = res.body;
    if (res.statusCode !== 200) {
      const text = await res.body.text().catch(() => "");
      throw new StreamProblem(`HTTP ${res.statusCode}: ${text.replace(/\s+/g, " ").slice(0, 160)}`);
    }
    const sse = new SseReader();
    for await (const piece of res.body) {
      const at = performance.now();
      for (const data of sse.push(piece as Buffer)) onEvent(data, at);
      if (own.signal.aborted) break;
    }
    if (!own.signal.aborted) for (const data of sse.end()) onEvent(data, performance.now());
    if (own.signal.aborted) rec.status = "aborted";
    else if (!done) throw new StreamProblem("the stream ended without [DONE]");
    else rec.status = "ok";
  } catch (err) {
    if (own.signal.aborted) rec.status = "aborted";
    else if (o.cut.aborted) rec.status = "cut";
    else {
      rec.status = "failed";
      const code = errorCode(err);
      rec.connection_lost = code !== undefined && CONNECTION_CODES.has(code);
      rec.error =
        err instanceof StreamProblem ? err.message : `${code ?? "error"}: ${(err as Error)?.message ?? String(err)}`;
    }
  } finally {
    body?.destroy(); // a disconnect: the server sees the connection close and cancels the request
  }
  rec.e2e_s = (performance.now() - sent) / 1000;
  if (rec.status === "ok" && usageTokens !== null) {
    rec.output_tokens = usageTokens;
    rec.tokens_from = "usage";
  } else rec.output_tokens = rec.token_chunks;
  return rec;
}

class StreamProblem extends Error {}
