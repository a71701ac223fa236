// Ctrl-C / SIGTERM during a run: abort the pass in flight (its worker group is ended), then exit.

export function abortOnSignals(): { signal: AbortSignal; dispose: () => void } {
  const ac = new AbortController();
  const handler = (sig: NodeJS.Signals) => {
    if (ac.signal.aborted) process.exit(130); // a second Ctrl-C: stop waiting for cleanup
    process.stderr.write(`\nmoe-prof: ${sig} received, stopping the worker...\n`);
    ac.abort();
  };
  process.on("SIGINT", handler);
  process.on("SIGTERM", handler);
  return {
    signal: ac.signal,
    dispose: () => {
      process.off("SIGINT", handler);
      process.off("SIGTERM", handler);
    },
  };
}
