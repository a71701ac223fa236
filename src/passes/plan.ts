// Which passes a run makes: no-log and log alternate, so drift over time hits both alike.
import path from "node:path";

export const ROUTES_FILE = "moe_routes.jsonl";

/** The Parquet log beside a JSONL routes path, as the capture names it (capture/parquet.py log_paths). */
export function parquetTwin(jsonlPath: string): string {
  return jsonlPath.replace(/\.jsonl$/, ".parquet");
}

export type RunPassKind = "no_log" | "log";
/** serve's passes also have vllm_capture (moe-prof's capture off, vLLM's own routed-experts capture
 * on) and log_paused (moe-prof's capture installed but paused: its in-graph copies run, no rows
 * leave the GPU; what the capture costs without the host's part). */
export type ServePassKind = RunPassKind | "vllm_capture" | "log_paused";

/** The arms `serve` may add to each repeat's no-log/log pair. */
export interface ServeArms {
  vllmCapture: boolean;
  pausedCapture: boolean;
}

export interface PlannedPass<Kind extends ServePassKind = RunPassKind> {
  pass: Kind;
  repeat: number; // 1-based
  label: string;
  routesPath: string | null;
}

export function planPasses(repeats: number, workDir: string): PlannedPass[] {
  const plan: PlannedPass[] = [];
  for (let r = 1; r <= repeats; r++) {
    const suffix = repeats > 1 ? ` ${r}/${repeats}` : "";
    plan.push({ pass: "no_log", repeat: r, label: `no-log${suffix}`, routesPath: null });
    // Only the first log pass's routes are the run's result; later ones are checked, then removed.
    const routes = r === 1 ? ROUTES_FILE : `moe_routes.repeat${r}.jsonl`;
    plan.push({ pass: "log", repeat: r, label: `log${suffix}`, routesPath: path.join(workDir, routes) });
  }
  return plan;
}

/** `serve`'s passes: run's no-log/log pairs, then per repeat the extra arms asked for: a server
 * with the capture paused (`pausedCapture`; its log is only checked closed, then removed) and one
 * with vLLM's own routed-experts capture (`vllmCapture`; moe-prof's off). Even repeats run their
 * servers in the reverse order (ABBA): a drift over the run (clocks, heat, the compile cache the
 * first server fills) then falls on every arm alike. */
export function planServePasses(
  repeats: number,
  workDir: string,
  arms: ServeArms,
  logFormat: "jsonl" | "parquet" = "jsonl",
): PlannedPass<ServePassKind>[] {
  const inFormat = <K extends ServePassKind>(p: PlannedPass<K>): PlannedPass<K> =>
    logFormat === "parquet" && p.routesPath ? { ...p, routesPath: parquetTwin(p.routesPath) } : p;
  const withArms = (p: PlannedPass): PlannedPass<ServePassKind>[] => {
    if (p.pass !== "log") return [p];
    const label = (name: string) => p.label.replace(/^log/, name);
    const paused: PlannedPass<ServePassKind> = {
      pass: "log_paused",
      repeat: p.repeat,
      label: label("log-paused"),
      routesPath: path.join(workDir, `moe_routes.paused${p.repeat}.jsonl`),
    };
    const vllm: PlannedPass<ServePassKind> = {
      pass: "vllm_capture",
      repeat: p.repeat,
      label: label("vllm-capture"),
      routesPath: null,
    };
    return [p, ...(arms.pausedCapture ? [paused] : []), ...(arms.vllmCapture ? [vllm] : [])];
  };
  const plan = planPasses(repeats, workDir).flatMap(withArms).map(inFormat);
  const repeatsInOrder = Array.from({ length: repeats }, (_, i) => plan.filter((p) => p.repeat === i + 1));
  return repeatsInOrder.flatMap((group, i) => (i % 2 === 1 ? group.reverse() : group));
}
