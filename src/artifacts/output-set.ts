// `hist` writes its files as one set: all of them into a fresh staging directory inside --out
// first, then the previous set's manifest goes, the files are renamed into place, and the new
// manifest (hist-manifest.json: each file's sha256 and the run that wrote them) is renamed in
// last. So a set is vouched for by a manifest that matches it, or by none: a process killed, or a
// disk that filled up, midway never leaves new pictures beside an old summary.json that a manifest
// claims belong together. Staging directories of killed runs are removed by the next run.
import { createHash, randomBytes } from "node:crypto";
import { mkdir, open, readdir, rename, rm, rmdir } from "node:fs/promises";
import path from "node:path";
import { stepDone } from "../fault-injection.js";

export const MANIFEST_FILE = "hist-manifest.json";
export const MANIFEST_SCHEMA = "moe-prof.hist-manifest/1";
const STAGING = /^\.moe-prof-hist-(\d+)-[0-9a-f]+\.tmp$/;
/** Temp files of the per-file atomic writes of older versions: `.<name>.<pid>.<ms>.tmp`. */
const OLD_TEMP = /^\.(expert_hist\.png|expert_heatmap\.png|summary\.json)\.(\d+)\.\d+\.tmp$/;

export interface OutputFile {
  name: string;
  data: string | Uint8Array;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** Removes staging directories and temp files that killed runs left in `dir` (not those of live ones). */
export async function removeStaleStaging(dir: string): Promise<string[]> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return [];
  }
  const removed: string[] = [];
  for (const name of names) {
    const staging = STAGING.exec(name);
    const old = staging ? null : OLD_TEMP.exec(name);
    const pid = staging ? Number(staging[1]) : old ? Number(old[2]) : NaN;
    if (Number.isNaN(pid) || alive(pid)) continue;
    await rm(path.join(dir, name), { recursive: true, force: true });
    removed.push(name);
  }
  return removed;
}

async function writeDurably(file: string, data: string | Uint8Array): Promise<void> {
  const fh = await open(file, "wx");
  try {
    await fh.writeFile(data);
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/**
 * Publishes `files` (and the manifest describing them and `about`) into `dir` as one set.
 * Returns the paths written. On an error before the first rename, `dir` is as it was.
 */
export async function publishOutputSet(
  dir: string,
  files: OutputFile[],
  about: Record<string, unknown>,
): Promise<string[]> {
  const stage = path.join(dir, `.moe-prof-hist-${process.pid}-${randomBytes(4).toString("hex")}.tmp`);
  await mkdir(stage);
  stepDone("stage dir");
  try {
    for (const f of files) {
      await writeDurably(path.join(stage, f.name), f.data);
      stepDone(`stage ${f.name}`);
    }
    const manifest = {
      schema: MANIFEST_SCHEMA,
      run_id: path.basename(stage).slice(1, -4),
      created_at: new Date().toISOString(),
      ...about,
      files: Object.fromEntries(
        files.map((f) => [
          f.name,
          { sha256: createHash("sha256").update(f.data).digest("hex"), bytes: Buffer.byteLength(f.data) },
        ]),
      ),
    };
    await writeDurably(path.join(stage, MANIFEST_FILE), JSON.stringify(manifest, null, 2) + "\n");
    stepDone(`stage ${MANIFEST_FILE}`);
  } catch (err) {
    await rm(stage, { recursive: true, force: true });
    throw err;
  }
  // From here the old set is no longer vouched for until the new manifest lands.
  try {
    await rm(path.join(dir, MANIFEST_FILE), { force: true });
    stepDone(`remove old ${MANIFEST_FILE}`);
    for (const f of files) {
      await rename(path.join(stage, f.name), path.join(dir, f.name));
      stepDone(`publish ${f.name}`);
    }
    await rename(path.join(stage, MANIFEST_FILE), path.join(dir, MANIFEST_FILE));
    stepDone(`publish ${MANIFEST_FILE}`);
    await rmdir(stage);
    stepDone("remove stage dir");
  } catch (err) {
    await rm(stage, { recursive: true, force: true });
    throw err;
  }
  return files.map((f) => path.join(dir, f.name)).concat(path.join(dir, MANIFEST_FILE));
}
