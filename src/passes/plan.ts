// Which passes a run makes: no-log and log alternate, so drift over time hits both alike.
import path from "node:path";

export const ROUTES_FILE = "moe_routes.jsonl";

export interface PlannedPass {
  pass: "no_log" | "log";
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
