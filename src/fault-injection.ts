// Test hook for crash consistency: every change a patch transaction (src/patch) or a hist output
// set (src/artifacts/output-set.ts) makes to the disk is a numbered step. Tests set
// MOE_PROF_TEST_KILL_AFTER_STEP=n to have this process SIGKILL itself right after step n (not by
// timing luck), and MOE_PROF_TEST_STEP_LOG=FILE to learn how many steps there are. Unset (always,
// outside tests) this only counts.
import { appendFileSync } from "node:fs";

let done = 0;

export function stepDone(name: string): void {
  done++;
  const log = process.env.MOE_PROF_TEST_STEP_LOG;
  if (log) appendFileSync(log, `${done} ${name}\n`);
  if (process.env.MOE_PROF_TEST_KILL_AFTER_STEP === String(done)) process.kill(process.pid, "SIGKILL");
}
