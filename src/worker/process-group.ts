// The worker leads its own process group, so ending it also ends vLLM's engine-core child.

/** Whether any process of the group is left. */
export function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch {
    return false;
  }
}

/** SIGTERM the group, then SIGKILL whatever is left after `graceMs`. Resolves once the group is gone. */
export async function endProcessGroup(pgid: number, graceMs = 5_000): Promise<void> {
  const send = (sig: NodeJS.Signals) => {
    try {
      process.kill(-pgid, sig);
    } catch {
      /* already gone */
    }
  };
  send("SIGTERM");
  const deadline = Date.now() + graceMs;
  while (groupAlive(pgid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  if (groupAlive(pgid)) {
    send("SIGKILL");
    const hard = Date.now() + 2_000;
    while (groupAlive(pgid) && Date.now() < hard) await new Promise((r) => setTimeout(r, 50));
  }
}
