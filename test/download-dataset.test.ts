// --dataset-url against a local HTTP server: every way a download goes wrong is one line naming
// the URL (exit 2), a body over the cap is cut off while it streams, and a stalled server ends.
import { test } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import zlib from "node:zlib";
import type { AddressInfo } from "node:net";
import { downloadDataset, DEFAULT_DOWNLOAD_LIMITS, type DownloadLimits } from "../src/prompts/download-dataset.js";
import { loadPrompts } from "../src/prompts/load-prompts.js";
import { UserError } from "../src/errors.js";

const GOOD = '{"question":"q0","answer":"a"}\n{"question":"q1","answer":"b"}\n{"question":"q2","answer":"c"}\n';
const small: DownloadLimits = { maxBytes: 1024 * 1024, connectMs: 2000, idleMs: 1000, totalMs: 5000 };

/** A server on 127.0.0.1 for one test; `closed` counts connections the client closed early. */
async function serve(
  handler: http.RequestListener,
): Promise<{ url: (p: string) => string; closedEarly: () => number; stop: () => Promise<void> }> {
  let closedEarly = 0;
  const server = http.createServer((req, res) => {
    res.on("close", () => {
      if (!res.writableFinished) closedEarly++;
    });
    handler(req, res);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as AddressInfo).port;
  return {
    url: (p) => `http://127.0.0.1:${port}${p}`,
    closedEarly: () => closedEarly,
    stop: () => {
      server.closeAllConnections();
      return new Promise((r) => server.close(() => r()));
    },
  };
}

async function refusal(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof UserError, String(e));
    assert.equal(e.exitCode, 2);
    assert.ok(!e.message.includes("\n"), e.message);
    return e.message;
  }
  assert.fail("expected a refusal");
}

test("a GSM8K-style file is downloaded, through a redirect and gzip, and its questions read", async () => {
  const s = await serve((req, res) => {
    if (req.url === "/moved") res.writeHead(302, { location: "/test.jsonl" }).end();
    else if (req.url === "/test.jsonl") res.writeHead(200).end(GOOD);
    else if (req.url === "/gz") res.writeHead(200, { "content-encoding": "gzip" }).end(zlib.gzipSync(GOOD));
    else res.writeHead(404).end();
  });
  try {
    assert.deepEqual((await loadPrompts({ numPrompts: 2, datasetUrl: s.url("/moved") })).prompts, ["q0", "q1"]);
    assert.equal(await downloadDataset(s.url("/gz"), small), GOOD);
  } finally {
    await s.stop();
  }
});

test("HTTP 404, and lines that are not GSM8K JSON: named by the URL (and the line)", async () => {
  const s = await serve((req, res) => {
    if (req.url === "/bad.jsonl") res.writeHead(200).end('{"question":"q0"}\n{oops\n');
    else if (req.url === "/noq.jsonl") res.writeHead(200).end('{"question":"q0"}\n{"answer":"b"}\n');
    else if (req.url === "/latin1") res.writeHead(200).end(Buffer.from([0x7b, 0xe9, 0x7d, 0x0a]));
    else res.writeHead(404, "Not Found").end("no");
  });
  try {
    assert.equal(
      await refusal(loadPrompts({ numPrompts: 2, datasetUrl: s.url("/nope") })),
      `--dataset-url ${s.url("/nope")}: server answered HTTP 404 Not Found`,
    );
    await assert.rejects(
      loadPrompts({ numPrompts: 2, datasetUrl: s.url("/bad.jsonl") }),
      (e: unknown) =>
        e instanceof UserError && e.exitCode === 1 && e.message === `${s.url("/bad.jsonl")}:2: not valid JSON`,
    );
    await assert.rejects(
      loadPrompts({ numPrompts: 2, datasetUrl: s.url("/noq.jsonl") }),
      (e: unknown) =>
        e instanceof UserError && e.message === `${s.url("/noq.jsonl")}:2: question: expected a non-empty string`,
    );
    assert.equal(
      await refusal(downloadDataset(s.url("/latin1"), small)),
      `--dataset-url ${s.url("/latin1")}: not UTF-8 text (a GSM8K-style JSONL file is)`,
    );
  } finally {
    await s.stop();
  }
});

test("too large: refused from Content-Length before reading, or cut off at the cap while streaming", async () => {
  const piece = Buffer.alloc(64 * 1024, "x");
  let streamed = 0;
  const s = await serve((req, res) => {
    if (req.url === "/declared") {
      res.writeHead(200, { "content-length": String(small.maxBytes + 1) });
      res.write(piece); // the rest never comes: only the header may be what refuses it
    } else {
      // no Content-Length, no end: only the cap stops the client
      res.writeHead(200);
      const more = () => {
        while (res.write(piece)) streamed += piece.length;
        streamed += piece.length;
      };
      res.on("drain", more);
      more();
    }
  });
  try {
    const capMsg = (u: string) =>
      `--dataset-url ${u}: larger than 1 MiB (moe-prof's limit for a prompt set); download a part of it and pass it as --prompts FILE`;
    assert.equal(await refusal(downloadDataset(s.url("/declared"), small)), capMsg(s.url("/declared")));
    const t0 = Date.now();
    assert.equal(await refusal(downloadDataset(s.url("/endless"), small)), capMsg(s.url("/endless")));
    assert.ok(Date.now() - t0 < small.totalMs, "stopped by the cap, not by a timeout");
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(s.closedEarly(), 2, "the client closed both connections before the server finished");
    assert.ok(
      streamed < 16 * small.maxBytes,
      `the server could push only what socket buffers hold past the cap (${streamed} bytes)`,
    );
  } finally {
    await s.stop();
  }
});

test("slow servers: no headers, a body that stalls, a trickle that never ends; each stops in time", async () => {
  const s = await serve((req, res) => {
    if (req.url === "/silent") return; // never answers
    res.writeHead(200);
    res.write('{"question":"q0"}\n');
    if (req.url === "/trickle") {
      const t = setInterval(() => res.write(" "), 100);
      res.on("close", () => clearInterval(t));
    }
  });
  try {
    const t0 = Date.now();
    assert.equal(
      await refusal(downloadDataset(s.url("/silent"), small)),
      `--dataset-url ${s.url("/silent")}: download failed: no answer within 1 s (UND_ERR_HEADERS_TIMEOUT). Leave out --dataset-url to use the bundled GSM8K split`,
    );
    assert.match(
      await refusal(downloadDataset(s.url("/stall"), small)),
      /^--dataset-url \S+: download failed after 18 bytes: the server sent nothing for 1 s \(UND_ERR_BODY_TIMEOUT\)$/,
    );
    const trickle = await refusal(downloadDataset(s.url("/trickle"), { ...small, totalMs: 2500 }));
    assert.match(trickle, /^--dataset-url \S+: download failed after \d+ bytes: not complete after 2\.5 s$/);
    assert.ok(Date.now() - t0 < 10_000);
  } finally {
    await s.stop();
  }
});

test("connection refused: one line, with the hint", async () => {
  const s = await serve(() => undefined);
  const url = s.url("/gsm8k.jsonl");
  await s.stop(); // nothing listens on that port now
  assert.equal(
    await refusal(loadPrompts({ numPrompts: 1, datasetUrl: url })),
    `--dataset-url ${url}: download failed: connection refused (ECONNREFUSED). Leave out --dataset-url to use the bundled GSM8K split`,
  );
  assert.equal(DEFAULT_DOWNLOAD_LIMITS.maxBytes, 64 * 1024 * 1024);
});
