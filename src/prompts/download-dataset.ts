// --dataset-url: a GSM8K-style JSONL fetched with undici, streamed with the size cap enforced while
// reading (a huge or endless body stops at the cap, not after it is buffered), bounded in time,
// and each failure one line naming the URL.
import { Agent, fetch } from "undici";
import { UserError, EXIT_ENV } from "../errors.js";

/** The bundled split is 0.7 MB; a GSM8K-style file of 64 MiB holds ~100,000 questions. */
export const MAX_DATASET_BYTES = 64 * 1024 * 1024;

export interface DownloadLimits {
  maxBytes: number;
  /** TCP (and TLS) connection. */
  connectMs: number;
  /** From the request to the response's headers, and between two pieces of the body. */
  idleMs: number;
  /** The whole download: a server that trickles a byte now and then still ends. */
  totalMs: number;
}

export const DEFAULT_DOWNLOAD_LIMITS: DownloadLimits = {
  maxBytes: MAX_DATASET_BYTES,
  connectMs: 15_000,
  idleMs: 30_000,
  totalMs: 600_000,
};

const OFFLINE_HINT = "Leave out --dataset-url to use the bundled GSM8K split";

const seconds = (ms: number) => `${ms / 1000} s`;
const mib = (bytes: number) => `${bytes / (1024 * 1024)} MiB`;

/** undici's and the system's error codes, in words. */
function describeFailure(err: unknown, limits: DownloadLimits, totalExpired: boolean): string {
  if (totalExpired) return `not complete after ${seconds(limits.totalMs)}`;
  const e = err as { code?: string; cause?: { code?: string; message?: string }; message?: string; name?: string };
  const code = e.cause?.code ?? e.code;
  const words: Record<string, string> = {
    ECONNREFUSED: "connection refused",
    ENOTFOUND: "host not found",
    EAI_AGAIN: "host name lookup failed",
    ECONNRESET: "connection reset by the server",
    EHOSTUNREACH: "host unreachable",
    ENETUNREACH: "network unreachable",
    UND_ERR_CONNECT_TIMEOUT: `no connection within ${seconds(limits.connectMs)}`,
    UND_ERR_HEADERS_TIMEOUT: `no answer within ${seconds(limits.idleMs)}`,
    UND_ERR_BODY_TIMEOUT: `the server sent nothing for ${seconds(limits.idleMs)}`,
    UND_ERR_SOCKET: "the connection closed before the end of the file",
  };
  if (code && words[code]) return `${words[code]} (${code})`;
  const msg = e.cause?.message ?? e.message ?? String(err);
  return code ? `${msg} (${code})` : msg;
}

/** The body of `url` as text; throws a one-line UserError (exit 2) for every failure. */
export async function downloadDataset(url: string, limits: DownloadLimits = DEFAULT_DOWNLOAD_LIMITS): Promise<string> {
  const fail = (what: string) => new UserError(`--dataset-url ${url}: ${what}`, EXIT_ENV);
  const dispatcher = new Agent({
    connect: { timeout: limits.connectMs },
    headersTimeout: limits.idleMs,
    bodyTimeout: limits.idleMs,
  });
  const total = AbortSignal.timeout(limits.totalMs);
  try {
    let res;
    try {
      res = await fetch(url, { redirect: "follow", dispatcher, signal: total });
    } catch (err) {
      throw fail(`download failed: ${describeFailure(err, limits, total.aborted)}. ${OFFLINE_HINT}`);
    }
    if (res.status !== 200) {
      await res.body?.cancel();
      throw fail(`server answered HTTP ${res.status}${res.statusText ? ` ${res.statusText}` : ""}`);
    }
    const tooLarge = () =>
      fail(
        `larger than ${mib(limits.maxBytes)} (moe-prof's limit for a prompt set); download a part of it and pass it as --prompts FILE`,
      );
    // Content-Length counts the bytes on the wire; a compressed body is checked again as it is decoded.
    const declared = Number(res.headers.get("content-length"));
    if (!res.headers.get("content-encoding") && declared > limits.maxBytes) {
      await res.body?.cancel();
      throw tooLarge();
    }
    const chunks: Uint8Array[] = [];
    let bytes = 0;
    try {
      // undici types the body's pieces as any; they are bytes
      for await (const chunk of (res.body ?? []) as AsyncIterable<Uint8Array>) {
        bytes += chunk.byteLength;
        if (bytes > limits.maxBytes) break; // leaving the loop cancels the body and closes the connection
        chunks.push(chunk);
      }
    } catch (err) {
      throw fail(`download failed after ${bytes} bytes: ${describeFailure(err, limits, total.aborted)}`);
    }
    if (bytes > limits.maxBytes) throw tooLarge();
    try {
      return new TextDecoder("utf-8", { fatal: true }).decode(Buffer.concat(chunks));
    } catch {
      throw fail("not UTF-8 text (a GSM8K-style JSONL file is)");
    }
  } finally {
    // Closes idle keep-alive connections at once, so that the process can exit.
    await dispatcher.destroy().catch(() => undefined);
  }
}
