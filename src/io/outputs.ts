/**
 * The one check every command makes before it writes anything: no output is one of its inputs, no two
 * outputs are one file, and no output is a directory. Files are compared by what they are, not by how
 * they are named: the real path (symbolic links followed) and, for files that exist, device and inode (a
 * hard link is the same file under another name). An output that does not exist yet is named through its
 * folder's real path. The same call removes the stale temp files a killed earlier run left beside each
 * output (src/io/atomic.ts).
 *
 *   await prepareOutputs({
 *     inputs: [{ option: "input", path: inPath }, { option: "--tokenizer", path: tok }],
 *     outputs: [{ option: "--json", path: json }, { option: "--report", path: html }],
 *   });
 *
 * "-" (stdin, stdout) and undefined paths are skipped, so options can be passed as parsed.
 */
import { existsSync } from "node:fs";
import { readdir, realpath, stat } from "node:fs/promises";
import { basename, dirname, join, resolve } from "node:path";
import { UserError } from "../util/errors.js";
import { removeStaleTemps } from "./atomic.js";

export interface FileUse {
  /** How the user named it, for messages: "--out", "--json", or "input" for a positional argument. */
  option: string;
  /** As given; "-" and undefined are skipped. */
  path: string | undefined;
}

export interface CommandFiles {
  /** Files the command reads. */
  inputs?: FileUse[];
  /** Directories every file of which (subfolders included) the command may read: a model, another trainer's log. */
  inputDirs?: FileUse[];
  /** Files the command writes (each atomically, src/io/atomic.ts). */
  outputs?: FileUse[];
}

/** A file's identity: its real path, and "dev:ino" when it exists. */
interface Identity {
  real: string;
  inode: string | null;
}

async function identify(path: string): Promise<Identity> {
  try {
    const real = await realpath(path);
    const s = await stat(real);
    return { real, inode: `${s.dev}:${s.ino}` };
  } catch {
    // Not there yet (or a dangling link, which the rename replaces): its folder says where it will be.
    let folder: string;
    try {
      folder = await realpath(dirname(path));
    } catch {
      folder = resolve(dirname(path));
    }
    return { real: join(folder, basename(path)), inode: null };
  }
}

function same(a: Identity, b: Identity): boolean {
  return a.real === b.real || (a.inode !== null && a.inode === b.inode);
}

/** Whether two paths name one file (through links, hard links included), whether or not it exists yet. */
export async function sameFile(a: string, b: string): Promise<boolean> {
  return same(await identify(a), await identify(b));
}

function given(uses: FileUse[] | undefined): (FileUse & { path: string })[] {
  return (uses ?? []).filter((u): u is FileUse & { path: string } => u.path !== undefined && u.path !== "-");
}

/** How a file in use is named in a message: "the input a.jsonl", "the --json file s.json". */
function label(option: string, path: string): string {
  return option === "input" ? `the input ${path}` : `the ${option} file ${path}`;
}

/** A run directory's files (docs/CONTRACTS.md): what is read of it, so that its other files may be outputs. */
const RUN_FILES = ["config.json", "metrics.jsonl", "rollouts.jsonl"];

/**
 * The inputs of a rollout source as prm, analyze, view and report take it: a run directory of ours (read
 * through its run files only: `report run/ --out run/report.html` is fine), any other directory as a whole
 * (a verl rollout_data_dir, TRL's completions/), or the file; and the tokenizer.
 */
export function rolloutSourceFiles(path: string, tokenizer?: string): Pick<CommandFiles, "inputs" | "inputDirs"> {
  const tokenizers = [{ option: "--tokenizer", path: tokenizer }];
  if (path !== "-" && RUN_FILES.slice(1).some((f) => existsSync(join(path, f)))) {
    return { inputs: [{ option: "input", path }, ...RUN_FILES.map((f) => ({ option: "input", path: join(path, f) })), ...tokenizers] };
  }
  return { inputs: [{ option: "input", path }, ...tokenizers], inputDirs: [{ option: "input", path }] };
}

/** The files under `dir` (subfolders to a few levels: the logs we read nest two deep). */
async function filesUnder(dir: string, depth = 3): Promise<string[]> {
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch {
    return []; // not a directory, or missing: the command reports a missing input in its own words
  }
  const out: string[] = [];
  for (const e of entries) {
    const path = join(dir, e.name);
    if (e.isDirectory()) {
      if (depth > 1) out.push(...(await filesUnder(path, depth - 1)));
    } else {
      out.push(path);
    }
  }
  return out;
}

/**
 * Refuses (UserError, one line naming the options) an output that is an input, a file inside an input
 * directory, another output or a directory; then clears each output's stale temp files.
 */
export async function prepareOutputs(files: CommandFiles): Promise<void> {
  const inputs = await Promise.all(given(files.inputs).map(async (u) => ({ path: u.path, what: label(u.option, u.path), id: await identify(u.path) })));
  for (const dir of given(files.inputDirs)) {
    for (const path of await filesUnder(dir.path)) {
      const what = dir.option === "input" ? `${path}, a file of the input` : `${path}, a file of the ${dir.option} directory`;
      inputs.push({ path, what, id: await identify(path) });
    }
  }
  const outputs: { use: FileUse & { path: string }; id: Identity }[] = [];
  for (const use of given(files.outputs)) {
    const id = await identify(use.path);
    const through = (other: string): string => (resolve(use.path) === resolve(other) ? "" : " (the same file under another name)");
    for (const input of inputs) {
      if (same(id, input.id)) {
        throw new UserError(`${use.option}: ${use.path} is ${input.what}${through(input.path)}; writing it would destroy the input, choose another file`);
      }
    }
    for (const earlier of outputs) {
      if (same(id, earlier.id)) {
        throw new UserError(`${use.option}: ${use.path} is also ${label(earlier.use.option, earlier.use.path)}${through(earlier.use.path)}; give each output its own file`);
      }
    }
    if (id.inode !== null && (await stat(id.real)).isDirectory()) {
      throw new UserError(`${use.option}: ${use.path} is a directory (expected a file name)`);
    }
    outputs.push({ use, id });
  }
  // the temp files sit beside the path as given (a link is replaced, not followed: src/io/atomic.ts)
  for (const { use } of outputs) await removeStaleTemps(dirname(use.path), basename(use.path));
}
