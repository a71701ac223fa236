// `moe-prof hist <log> --request ID`: one request's routes, validating the whole log as hist
// does: a table on stdout (--json: the routes as one line of JSON) and request_<ID>.png, its
// tokens x layers coloured by top-1 expert, in --out.
import { scanProgress } from "../scan-progress.js";
import { reportSkipped, sourceOf } from "../../routes/read-log.js";
import { readRoutesLogSet } from "../../routes/read-log-set.js";
import { logSetOf, outAnchor, setWhere, type LogInput } from "../../routes/log-set.js";
import { RequestCollector, REQUEST_SCHEMA, type RequestRoutes } from "../../analysis/request-routes.js";
import { logName } from "../../routes/log-source.js";
import { prepareOutDir, writeOutputs, jsonOutput, readOptions } from "../command-output.js";
import { envError } from "../../errors.js";
import { hasWeights, noTop1Reason } from "../../routes/weights.js";

export interface RequestOptions {
  request: string;
  out?: string;
  layers?: string;
  lenient?: boolean;
  json?: boolean;
  pretty?: boolean;
}

/** The request's routes (tests call it directly). Unknown id: usage error naming some that exist. */
export async function runRequest(input: LogInput, opts: RequestOptions): Promise<RequestRoutes> {
  const set = logSetOf(input);
  const file = setWhere(set);
  let collector: RequestCollector | null = null;
  const progress = scanProgress(`reading ${logName(file)}`);
  const read = await readRoutesLogSet(set, readOptions(opts, progress), {
    onMeta: (meta) => {
      if (!hasWeights(meta))
        throw envError(`--request: ${noTop1Reason(meta)}, and the request view orders experts by weight (top-1 first)`);
      collector = new RequestCollector(opts.request, meta.layers_logged.length);
    },
    onRow: (row, _req, li) => collector!.add(row, li),
  }).finally(() => progress?.end());
  reportSkipped(read, (t) => process.stderr.write(t));
  const c = collector as RequestCollector | null; // assigned in onMeta, which TypeScript's narrowing cannot see
  if (c === null || !c.found) {
    const ids = read.requests.map((r) => JSON.stringify(r.req_id));
    const some = ids.length > 5 ? `${ids.slice(0, 5).join(", ")}, ...` : ids.join(", ");
    throw envError(
      `--request ${JSON.stringify(opts.request)}: no such req_id in ${logName(file)} (${ids.length} request${ids.length === 1 ? "" : "s"}: ${some})`,
    );
  }
  return {
    schema: REQUEST_SCHEMA,
    source: sourceOf(read),
    model_id: read.meta.model_id,
    req_id: opts.request,
    layers: [...read.meta.layers_logged],
    top_k: read.meta.top_k,
    num_experts: read.numExperts,
    tokens: c.tokens(),
  };
}

export async function requestCommand(input: LogInput, opts: RequestOptions): Promise<void> {
  const set = logSetOf(input);
  const routes = await runRequest(set, opts);
  const { requestSpec, requestTable, requestPictureName } = await import("../../render/request-view.js");
  const { specToPng } = await import("../../render/to-png.js");
  const outDir = await prepareOutDir(opts.out, outAnchor(set));
  const png = await specToPng(requestSpec(routes));
  const [written] = await writeOutputs(outDir, [{ name: requestPictureName(routes.req_id), data: png }]);
  if (opts.json) process.stdout.write(jsonOutput(routes, opts.pretty));
  else process.stdout.write(requestTable(routes) + `wrote ${written!}\n`);
}
