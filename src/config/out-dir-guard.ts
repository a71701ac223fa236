// Output directories on kernel pseudo-filesystems are refused before anything is made there:
// Node's recursive mkdir under /proc never returns (measured: `hist --out /proc/x` and `run`
// spun at 100% CPU), /sys refuses late with EPERM, and as root /dev takes the files into the
// device filesystem. /dev/shm is an ordinary tmpfs and stays allowed.
import { realpathSync, statSync, statfsSync } from "node:fs";
import path from "node:path";
import { envError } from "../errors.js";

const SPECIAL_ROOTS = ["/proc", "/sys", "/dev"];
const ALLOWED_UNDER_SPECIAL = ["/dev/shm"];

/** statfs f_type of filesystems that hold no ordinary files (linux/magic.h). */
const PSEUDO_FS = new Map<number, string>([
  [0x9fa0, "proc"],
  [0x62656572, "sysfs"],
  [0x1cd1, "devpts"],
  [0x27e0eb, "cgroup"],
  [0x63677270, "cgroup2"],
  [0x64626720, "debugfs"],
  [0x73636673, "securityfs"],
  [0x74726163, "tracefs"],
  [0xcafe4a11, "bpf"],
  [0x42494e4d, "binfmt_misc"],
  [0x6e736673, "nsfs"],
  [0x67596969, "rpc_pipefs"],
  [0x2bad1dea, "inotifyfs"],
]);

const under = (p: string, root: string) => p === root || p.startsWith(root + "/");

/** Where `p` really is: its deepest existing ancestor with symlinks resolved, plus the rest. */
function resolveExisting(p: string): { real: string; ancestor: string } {
  for (let d = p; ; d = path.dirname(d)) {
    try {
      const ancestor = realpathSync(d);
      return { real: path.join(ancestor, path.relative(d, p)), ancestor };
    } catch {
      if (path.dirname(d) === d) return { real: p, ancestor: d };
    }
  }
}

/** Throws a one-line environment error (exit 2) when `dir` would land on a pseudo-filesystem. */
export function refuseSpecialOutDir(dir: string, flag = "--out"): void {
  const abs = path.resolve(dir);
  const { real, ancestor } = resolveExisting(abs);
  for (const p of [abs, real]) {
    if (ALLOWED_UNDER_SPECIAL.some((a) => under(p, a))) return;
    const root = SPECIAL_ROOTS.find((r) => under(p, r));
    if (root) throw envError(`${flag} ${dir}: is under ${root}, a kernel filesystem, not a place for output files`);
  }
  let type: number | undefined;
  try {
    type = statfsSync(ancestor).type;
  } catch {
    return; // nothing to go on: mkdir will say what is wrong
  }
  const fs = PSEUDO_FS.get(type);
  if (fs) throw envError(`${flag} ${dir}: is on a ${fs} filesystem (${ancestor}), not a place for output files`);
}

/** Throws a one-line environment error (exit 2) when `dir` exists and is not a directory. */
export function refuseFileAsOutDir(dir: string, flag = "--out"): void {
  let isDir: boolean;
  try {
    isDir = statSync(dir).isDirectory();
  } catch {
    return; // not there (made later), or unreachable: mkdir will say
  }
  if (!isDir) throw envError(`${flag} ${dir}: is a file, not a directory`);
}
