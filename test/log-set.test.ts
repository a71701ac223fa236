// Many files as one log (src/routes/log-set.ts and its readers): argument expansion (globs checked
// against a brute-force matcher), and every command on a set of files checked against the same
// command on one log made by hand: the files' rows concatenated in order with each req_id
// prefixed by its file's label. Seeded random logs, small.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, writeFileSync, readFileSync, readdirSync, statSync } from "node:fs";
import path from "node:path";
import { execa } from "execa";
import { CLI, FIXTURES, META, route, tempDir } from "./helpers.js";
import { mulberry32 } from "../src/random.js";
import { globFiles, segmentRegExp } from "../src/routes/glob.js";
import { expandLogArgs, fileLabels } from "../src/routes/log-set.js";
import { runCache } from "../src/commands/cache/index.js";
import { runPlace } from "../src/commands/place/index.js";
import { runExport } from "../src/commands/export/index.js";
import { runCompare } from "../src/commands/compare/index.js";
import { runRequest } from "../src/commands/hist/request.js";
import { UserError } from "../src/errors.js";
import type { HistSummary } from "../src/analysis/summary.js";

const cli = (args: string[], env: Record<string, string> = {}) =>
  execa(process.execPath, [CLI, ...args], { reject: false, stripFinalNewline: false, env });

// ---- globs ------------------------------------------------------------------------------------

/** Brute force: does `rel` (a/b/c) match `pattern`, by trying every way to split it? */
function bruteMatch(pattern: string, rel: string): boolean {
  const ps = pattern.split("/");
  if (ps[ps.length - 1] === "**") ps.push("*");
  const ns = rel.split("/");
  const seg = (p: string, n: string): boolean => {
    if (n.startsWith(".") && !p.startsWith(".")) return false;
    // char-by-char with backtracking; classes [..] handled as one token
    const go = (i: number, j: number): boolean => {
      if (i === p.length) return j === n.length;
      const c = p[i]!;
      if (c === "*") {
        for (let k = j; k <= n.length; k++) if (go(i + 1, k)) return true;
        return false;
      }
      if (j === n.length) return false;
      if (c === "?") return go(i + 1, j + 1);
      if (c === "[") {
        const close = p.indexOf("]", i + 2);
        if (close !== -1) {
          let body = p.slice(i + 1, close);
          const neg = body[0] === "!";
          if (neg) body = body.slice(1);
          let hit = false;
          for (let q = 0; q < body.length; q++) {
            if (body[q + 1] === "-" && q + 2 < body.length) {
              if (n[j]! >= body[q]! && n[j]! <= body[q + 2]!) hit = true;
              q += 2;
            } else if (body[q] === n[j]) hit = true;
          }
          return hit !== neg && go(close + 1, j + 1);
        }
      }
      return c === n[j] && go(i + 1, j + 1);
    };
    return go(0, 0);
  };
  const walk = (i: number, j: number): boolean => {
    if (i === ps.length) return j === ns.length;
    if (ps[i] === "**") {
      for (let k = j; k < ns.length; k++) {
        if (k > j && ns[k - 1]!.startsWith(".")) break;
        if (walk(i + 1, k)) return true;
      }
      return false;
    }
    return j < ns.length && seg(ps[i]!, ns[j]!) && walk(i + 1, j + 1);
  };
  return walk(0, 0);
}

function allFiles(root: string, rel = ""): string[] {
  const out: string[] = [];
  for (const n of readdirSync(path.join(root, rel))) {
    const r = rel ? `${rel}/${n}` : n;
    if (statSync(path.join(root, r)).isDirectory()) out.push(...allFiles(root, r));
    else out.push(r);
  }
  return out;
}

test("globFiles matches what a brute-force matcher matches, on a random tree and random patterns", () => {
  const rnd = mulberry32(18);
  const root = tempDir();
  const names = ["a", "b", "ab", "rank0", "rank1", "rank10", ".hid", "x.jsonl", "y.parquet", "z.jsonl.gz"];
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(rnd() * xs.length)]!;
  for (let i = 0; i < 60; i++) {
    const depth = Math.floor(rnd() * 3);
    const dirs = Array.from({ length: depth }, () => pick(names.slice(0, 7)));
    const dir = path.join(root, ...dirs);
    try {
      mkdirSync(dir, { recursive: true });
      writeFileSync(path.join(dir, pick(names)), "x");
    } catch {
      // a file where a directory was wanted: skip
    }
  }
  const files = allFiles(root);
  const segs = ["*", "?", "a*", "*.jsonl", "rank?", "rank[01]", "rank[!0]*", "[a-b]*", ".*", "**", "*.j*", "x.jsonl"];
  let checked = 0;
  for (let i = 0; i < 300; i++) {
    const n = 1 + Math.floor(rnd() * 3);
    const pattern = Array.from({ length: n }, () => pick(segs)).join("/");
    if (/\*\*\/\*\*/.test(pattern)) continue;
    const want = files.filter((f) => bruteMatch(pattern, f)).sort();
    const got = globFiles(pattern, root).sort();
    assert.deepEqual(got, want, `pattern ${pattern}`);
    checked += want.length;
  }
  assert.ok(checked > 100, `the patterns matched something (${checked})`);
});

test("segmentRegExp escapes what is not glob syntax", () => {
  assert.ok(segmentRegExp("a.b+(c)").test("a.b+(c)"));
  assert.ok(!segmentRegExp("a.b").test("axb"));
  assert.ok(segmentRegExp("[").test("["), "an unclosed [ is literal");
});

// ---- expanding arguments ----------------------------------------------------------------------

test("expandLogArgs: a directory's logs sorted, globs, several paths, a file named twice once, labels", () => {
  const d = tempDir();
  mkdirSync(path.join(d, "logs"));
  for (const n of ["rank1.jsonl", "rank0.parquet", "rank2.jsonl.zst", "notes.txt", ".hidden.jsonl"])
    writeFileSync(path.join(d, "logs", n), "x");
  const set = expandLogArgs(["logs"], d);
  assert.deepEqual(
    set.files.map((f) => [f.path, f.label]),
    [
      ["logs/rank0.parquet", "rank0"],
      ["logs/rank1.jsonl", "rank1"],
      ["logs/rank2.jsonl.zst", "rank2"],
    ],
  );
  assert.equal(set.name, "3 files in logs");
  assert.equal(set.dir, path.join(d, "logs"));
  const g = expandLogArgs(["logs/rank[12]*", "logs/rank1.jsonl", "logs/rank0.parquet"], d);
  assert.deepEqual(
    g.files.map((f) => f.path),
    ["logs/rank1.jsonl", "logs/rank2.jsonl.zst", "logs/rank0.parquet"],
  );
  // one file: as given, exactly as before
  const one = expandLogArgs(["logs/rank1.jsonl"], d);
  assert.deepEqual(one.files, [{ path: "logs/rank1.jsonl", label: "rank1" }]);
  assert.equal(one.name, "logs/rank1.jsonl");
  // labels: equal stems keep their extensions; subdirectories stay in the label
  assert.deepEqual(fileLabels(["/x/a/r.jsonl", "/x/a/r.parquet", "/x/b/r.jsonl"], "/x"), [
    "a/r.jsonl",
    "a/r.parquet",
    "b/r",
  ]);
  const usage = (f: () => unknown, re: RegExp) =>
    assert.throws(f, (e: unknown) => e instanceof UserError && e.exitCode === 2 && re.test(e.message));
  usage(() => expandLogArgs(["logs/*.csv"], d), /^logs\/\*\.csv: no file matches this pattern$/);
  usage(() => expandLogArgs([d], "/"), /no route logs in this directory/);
  usage(() => expandLogArgs(["-", "logs"], d), /^-: standard input cannot be read together with other logs/);
});

// ---- every command on a set vs on the hand-made single log ------------------------------------

interface Made {
  dir: string;
  files: string[];
  labels: string[];
  /** The reference: one log, rows in file order, req_ids prefixed `<label>/`. */
  joined: string;
  /** Brute-force per-layer expert counts of all rows. */
  counts: number[][];
}

/** F files of random requests; ids r0.. restart in every file, so they collide across files. */
function makeSet(seed: number, F: number, meta: object = { ...META, num_experts: 6 }): Made {
  const rnd = mulberry32(seed);
  const dir = tempDir();
  const layers = (meta as { layers_logged: number[] }).layers_logged;
  const E = 6;
  const counts = layers.map(() => new Array<number>(E).fill(0));
  const files: string[] = [];
  const labels: string[] = [];
  const joined = [JSON.stringify(meta)];
  let step = 0;
  for (let f = 0; f < F; f++) {
    const label = F > 10 ? `rank${String(f).padStart(2, "0")}` : `rank${f}`; // in the order a listing sorts them
    const lines = [JSON.stringify(meta)];
    const R = 1 + Math.floor(rnd() * 4);
    for (let r = 0; r < R; r++) {
      const T = 1 + Math.floor(rnd() * 6);
      for (let t = 0; t < T; t++) {
        step++;
        for (const [li, layer] of layers.entries()) {
          const a = Math.floor(rnd() * E);
          const b = (a + 1 + Math.floor(rnd() * (E - 1))) % E;
          const w = 0.5 + rnd() / 2;
          const extra = { phase: t < 2 ? "prefill" : "decode", step };
          lines.push(JSON.stringify(route(`r${r}`, t, layer, [a, b], [w, 1 - w], extra)));
          joined.push(JSON.stringify(route(`${label}/r${r}`, t, layer, [a, b], [w, 1 - w], extra)));
          counts[li]![a]!++;
          counts[li]![b]!++;
        }
      }
    }
    const file = path.join(dir, `${label}.jsonl`);
    writeFileSync(file, lines.join("\n") + "\n");
    files.push(file);
    labels.push(label);
  }
  const ref = path.join(tempDir(), "moe_routes.jsonl");
  writeFileSync(ref, joined.join("\n") + "\n");
  return { dir, files, labels, joined: ref, counts };
}

/** A summary without what names its source: that, and the set's own note, are all that may differ. */
function comparable(s: HistSummary): unknown {
  return { ...s, source: null, notes: s.notes.filter((n) => !n.startsWith("read as one log:")) };
}

for (const threads of ["1", "2", "3"]) {
  test(`hist of a directory equals hist of the concatenation with prefixed ids (MOE_PROF_THREADS=${threads})`, async () => {
    // 13 files: more than the lanes run ahead of the oldest unmerged file (2 x threads)
    for (const [seed, F] of [
      [1, 2],
      [2, 5],
      [3, 13],
    ] as const) {
      const m = makeSet(seed, F);
      const a = await cli(["hist", m.dir, "--json", "--out", tempDir()], { MOE_PROF_THREADS: threads });
      assert.equal(a.exitCode, 0, a.stderr);
      const b = await cli(["hist", m.joined, "--json", "--out", tempDir()]);
      assert.equal(b.exitCode, 0, b.stderr);
      const sa = JSON.parse(a.stdout) as HistSummary;
      const sb = JSON.parse(b.stdout) as HistSummary;
      assert.deepEqual(comparable(sa), comparable(sb));
      assert.deepEqual(
        sa.layers.map((l) => l.counts),
        m.counts,
        "per-layer counts as counted by hand",
      );
      assert.equal(sa.source.files!.length, m.files.length);
      assert.deepEqual(
        sa.source.files!.map((f) => f.label),
        m.labels,
      );
      assert.equal(
        sa.source.bytes,
        m.files.reduce((x, f) => x + statSync(f).size, 0),
      );
      assert.ok(sa.notes[0]!.startsWith("read as one log:"), sa.notes[0]);
    }
  });
}

test("hist of files without num_experts (read one after another) equals the concatenation's", async () => {
  const m = makeSet(7, 3, { ...META });
  const a = await cli(["hist", ...m.files, "--json", "--out", tempDir(), "--layers", "3"]);
  assert.equal(a.exitCode, 0, a.stderr);
  const b = await cli(["hist", m.joined, "--json", "--out", tempDir(), "--layers", "3"]);
  assert.equal(b.exitCode, 0, b.stderr);
  assert.deepEqual(comparable(JSON.parse(a.stdout) as HistSummary), comparable(JSON.parse(b.stdout) as HistSummary));
});

for (const threads of ["1", "2", "3"])
  test(`cache, place, export (eplb, r3, parquet) and compare on a set equal the same on the concatenation (MOE_PROF_THREADS=${threads})`, async () => {
    process.env.MOE_PROF_THREADS = threads;
    // 13 files on 2-3 threads: workers read files ahead of their turn
    const m = makeSet(11, threads === "1" ? 3 : 13);
    const strip = (x: { source: unknown; notes: string[] }) => ({
      ...x,
      source: null,
      notes: x.notes.filter((n) => !n.startsWith("read as one log:")),
    });
    assert.deepEqual(strip(await runCache(m.dir, {})), strip(await runCache(m.joined, {})));
    // place's scored_on names the log it scored (here the same set / file as source): kept apart too
    const placed = async (input: string | string[]) => {
      const r = (await runPlace(input, { gpus: "2,3" })).report;
      const { kind, rows, requests } = r.scored_on;
      return { ...strip(r), scored_on: { kind, rows, requests } };
    };
    assert.deepEqual(await placed([`${m.dir}/*.jsonl`]), await placed(m.joined));
    for (const format of ["eplb", "r3", "parquet"]) {
      const outA = tempDir();
      const outB = tempDir();
      await runExport(m.files, { format, out: outA });
      await runExport(m.joined, { format, out: outB });
      for (const f of readdirSync(outB).filter((n) => !n.endsWith(".json")))
        assert.deepEqual(readFileSync(path.join(outA, f)), readFileSync(path.join(outB, f)), `${format}: ${f}`);
    }
    // compare: a set against itself, and against the concatenation (same prefixed ids: all rows match)
    const c = await runCompare(m.dir, m.joined, {});
    assert.equal(c.aligned!.rows_only_a, 0);
    assert.equal(c.aligned!.rows_only_b, 0);
    assert.equal(c.aligned!.top1_agreement, 1);
    // hist --request takes the prefixed id
    const id = `${m.labels[1]}/r0`;
    const one = await runRequest(m.dir, { request: id });
    const ref = await runRequest(m.joined, { request: id });
    assert.deepEqual({ ...one, source: null }, { ...ref, source: null });
    delete process.env.MOE_PROF_THREADS;
  });

test("files that disagree on the model: one line naming the file and the field, exit 1", async () => {
  const m = makeSet(5, 2);
  const other = path.join(m.dir, "rank9.jsonl");
  const lines = readFileSync(m.files[0]!, "utf8").split("\n");
  lines[0] = JSON.stringify({ ...META, num_experts: 8 });
  writeFileSync(other, lines.join("\n"));
  for (const cmd of [["hist"], ["cache"], ["place"], ["export", "--format", "eplb"]]) {
    const r = await cli([...cmd, m.dir, "--out", tempDir()]);
    assert.equal(r.exitCode, 1, `${cmd[0]}: ${r.stderr}`);
    assert.equal(
      r.stderr,
      `moe-prof: ${other}: meta: num_experts: 8, but ${m.files[0]} has 6 (files read as one log must be of one model)\n`,
      cmd[0],
    );
  }
  // the model is checked before the file's rows (here its layer 5 has none), as the what-ifs do
  lines[0] = JSON.stringify({ ...META, num_experts: 6, layers_logged: [0, 3, 5] });
  writeFileSync(other, lines.join("\n"));
  for (const cmd of [["hist"], ["cache"]]) {
    const r = await cli([...cmd, m.dir, "--out", tempDir()]);
    assert.equal(
      r.stderr,
      `moe-prof: ${other}: meta: layers_logged: [0,3,5], but ${m.files[0]} has [0,3] (files read as one log must be of one model)\n`,
      cmd[0],
    );
  }
  const v = await cli(["validate", m.dir]);
  assert.equal(v.exitCode, 1);
  assert.match(v.stderr, new RegExp(`^${other}: meta: layers_logged: \\[0,3,5\\], but `, "m"));
});

test("the first problem in file order is the one hist reports; validate reports every file under its name", async () => {
  const m = makeSet(9, 4);
  const bad = (f: string, lineNo: number) => {
    const lines = readFileSync(f, "utf8").split("\n");
    lines[lineNo - 1] = lines[lineNo - 1]!.replace('"topk_ids":[', '"topk_ids":[99,');
    writeFileSync(f, lines.join("\n"));
  };
  bad(m.files[1]!, 2);
  bad(m.files[3]!, 3);
  for (const threads of ["1", "2", "3"]) {
    const r = await cli(["hist", m.dir, "--out", tempDir()], { MOE_PROF_THREADS: threads });
    assert.equal(r.exitCode, 1);
    assert.match(r.stderr, new RegExp(`^moe-prof: ${m.files[1]}:2: topk_ids`), r.stderr);
    const c = await cli(["cache", m.dir, "--out", tempDir()], { MOE_PROF_THREADS: threads });
    assert.equal(c.exitCode, 1);
    assert.match(c.stderr, new RegExp(`^moe-prof: ${m.files[1]}:2: topk_ids`), c.stderr);
  }
  const v = await cli(["validate", m.dir]);
  assert.equal(v.exitCode, 1);
  assert.match(v.stderr, new RegExp(`^${m.files[1]}:2: topk_ids`, "m"));
  assert.match(v.stderr, new RegExp(`^${m.files[3]}:3: topk_ids`, "m"));
  assert.match(v.stdout, new RegExp(`^${m.files[0]}: valid: `, "m"));
  assert.match(v.stderr, /moe-prof: 4 files in .*: 2 of 4 files valid; \d+ rows, \d+ requests in all/);
  const j = await cli(["validate", m.dir, "--json"]);
  assert.equal(j.exitCode, 1);
  const out = JSON.parse(j.stdout) as { schema: string; valid: boolean; files: { valid: boolean; errors: string[] }[] };
  assert.equal(out.schema, "moe-prof.validate-set/1");
  assert.equal(out.valid, false);
  assert.deepEqual(
    out.files.map((f) => f.valid),
    [true, false, true, false],
  );
  // lenient: the bad lines are skipped in each file, named under its file
  const l = await cli(["hist", m.dir, "--lenient", "--json", "--out", tempDir()]);
  assert.equal(l.exitCode, 0, l.stderr);
  assert.equal((JSON.parse(l.stdout) as HistSummary).skipped_lines, 2);
  assert.match(l.stderr, new RegExp(`skipped ${m.files[1]}:2: topk_ids`));
});

test("JSONL and Parquet files, compressed or not, read as one log (the fixtures' four forms)", async () => {
  const files = ["full-schema.jsonl", "full-schema.jsonl.zst", "full-schema.pyarrow-gzip.parquet"].map((f) =>
    path.join(FIXTURES, f),
  );
  const r = await cli(["hist", ...files, "--json", "--out", tempDir()]);
  assert.equal(r.exitCode, 0, r.stderr);
  const s = JSON.parse(r.stdout) as HistSummary;
  const one = JSON.parse((await cli(["hist", files[0]!, "--json", "--out", tempDir()])).stdout) as HistSummary;
  assert.equal(s.rows, 3 * one.rows);
  assert.equal(s.requests, 3 * one.requests!);
  assert.deepEqual(
    s.overall.counts,
    one.overall.counts.map((c) => 3 * c),
  );
  assert.deepEqual(
    s.source.files!.map((f) => f.label),
    ["full-schema.jsonl", "full-schema.jsonl.zst", "full-schema.pyarrow-gzip"],
  );
});

test("--lenient with --layers on a set: the skipped share and notes are the concatenation's", async () => {
  const m = makeSet(21, 3);
  const lines = readFileSync(m.files[1]!, "utf8").split("\n");
  lines[2] = lines[2]!.replace('"topk_ids":[', '"topk_ids":[99,');
  writeFileSync(m.files[1]!, lines.join("\n"));
  // the reference made again from the files as they now are, ids prefixed
  const joined = [readFileSync(m.files[0]!, "utf8").split("\n")[0]!];
  m.files.forEach((f, i) => {
    for (const l of readFileSync(f, "utf8").split("\n").slice(1))
      if (l !== "") joined.push(l.replace('"req_id":"', `"req_id":"${m.labels[i]}/`));
  });
  const ref = path.join(tempDir(), "moe_routes.jsonl");
  writeFileSync(ref, joined.join("\n") + "\n");
  const strip = (x: { source: unknown; notes: string[] }) => ({
    ...x,
    source: null,
    notes: x.notes.filter((n) => !n.startsWith("read as one log:")),
  });
  const a = await runCache(m.dir, { lenient: true, layers: "3" });
  const b = await runCache(ref, { lenient: true, layers: "3" });
  assert.ok(
    a.notes.some((n) => n.startsWith("--lenient: 1 problem")),
    a.notes.join("\n"),
  );
  assert.deepEqual(strip(a), strip(b));
});
