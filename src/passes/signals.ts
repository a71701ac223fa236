// Ctrl-C / SIGTERM during a run: abort the pass in flight (its worker group is ended), then exit.

import { UserError, EXIT_INTERRUPTED } from "../errors.js";

/** Between stages: a Ctrl-C that arrived outside a worker still stops the run. */
export function throwIfInterrupted(signal: AbortSignal, where: string): void {
  if (signal.aborted) throw new UserError(`interrupted ${where}`, EXIT_INTERRUPTED);
}

export function abortOnSignals(): { signal: AbortSignal; dispose: () => void } {
  const ac = new AbortController();
  const handler = (sig: NodeJS.Signals) => {
    if (ac.signal.aborted) process.exit(130); // a second Ctrl-C: stop waiting for cleanup
    process.stderr.write(`\nmoe-prof: ${sig} received, stopping the worker...\n`);
    ac.abort();
  };
  process.on("SIGINT", handler);
  process.on("SIGTERM", handler);
  process.on("SIGHUP", handler); // terminal closed: the detached worker would keep the GPU
  return {
    signal: ac.signal,
    dispose: () => {
      process.off("SIGINT", handler);
      process.off("SIGTERM", handler);
      process.off("SIGHUP", handler);
    },
  };
}
