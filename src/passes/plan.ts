// Which passes a run makes: no-log and log alternate, so drift over time hits both alike.
import path from "node:path";

export const ROUTES_FILE = "moe_routes.jsonl";

/** The Parquet log beside a JSONL routes path, as the capture names it (capture/parquet.py log_paths). */
export function parquetTwin(jsonlPath: string): string {
  return jsonlPath.replace(/\.jsonl$/, ".parquet");
}

export type RunPassKind = "no_log" | "log";
/** serve's passes also have vllm_capture: moe-prof's capture off, vLLM's own routed-experts capture on. */
export type ServePassKind = RunPassKind | "vllm_capture";

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

/** `serve`'s passes: run's no-log/log pairs, and with `vllmCapture` a third server per repeat
 * with vLLM's own routed-experts capture (and moe-prof's off), for the side-by-side cost. Even
 * repeats run their servers in the reverse order (ABBA): a drift over the run (clocks, heat, the
 * compile cache the first server fills) then falls on every arm alike. */
export function planServePasses(
  repeats: number,
  workDir: string,
  vllmCapture: boolean,
  logFormat: "jsonl" | "parquet" = "jsonl",
): PlannedPass<ServePassKind>[] {
  const inFormat = (p: PlannedPass): PlannedPass =>
    logFormat === "parquet" && p.routesPath ? { ...p, routesPath: parquetTwin(p.routesPath) } : p;
  const withCapture = (p: PlannedPass): PlannedPass<ServePassKind>[] =>
    vllmCapture && p.pass === "log"
      ? [
          p,
          { pass: "vllm_capture", repeat: p.repeat, label: p.label.replace(/^log/, "vllm-capture"), routesPath: null },
        ]
      : [p];
  const plan = planPasses(repeats, workDir).map(inFormat).flatMap(withCapture);
  const repeatsInOrder = Array.from({ length: repeats }, (_, i) => plan.filter((p) => p.repeat === i + 1));
  return repeatsInOrder.flatMap((group, i) => (i % 2 === 1 ? group.reverse() : group));
}
