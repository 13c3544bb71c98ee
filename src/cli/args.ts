/**
 * Option parsing shared by the commands: `parseCommand` runs node:util parseArgs (string options as strings)
 * with `-h, --help` printing the command's USAGE; the checks below turn a bad value into a one-line UserError
 * that names the option, what was expected and what was given. parseArgs's own errors (unknown option,
 * missing value, unexpected argument) are turned into one line by src/cli/main.ts.
 */
import { LOSS_TYPES, type LossType } from "../prm/index.js";
import { join } from "node:path";
import { parseArgs, type ParseArgsConfig } from "node:util";
import { prepareOutputs } from "../io/outputs.js";
import { UserError } from "../util/errors.js";

/** Misuse of a command (a missing argument or option): one line that points at its --help. */
export function usageError(command: string, message: string): UserError {
  return new UserError(`${message} (see 'lambda-grpo ${command} --help')`);
}

/** A whole-number option >= `min` (>= 0), written in decimal digits; `fallback` when it is not given. */
export function intOption(name: string, v: string | undefined, fallback: number, min = 1): number {
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!/^\d+$/.test(v) || !Number.isSafeInteger(n) || n < min) throw new UserError(`--${name}: expected an integer >= ${min}, got '${v}'`);
  return n;
}

/** A finite number option, >= `min` (or > `min` with `exclusive`); `fallback` when it is not given. */
export function numberOption(name: string, v: string | undefined, fallback: number, min: number, exclusive = false): number {
  if (v === undefined) return fallback;
  const x = Number(v);
  if (v.trim() === "" || !Number.isFinite(x) || x < min || (exclusive && x === min)) {
    throw new UserError(`--${name}: expected a number ${exclusive ? ">" : ">="} ${min}, got '${v}'`);
  }
  return x;
}

/** --top-p: a probability mass in (0, 1] (1 keeps every token); `fallback` when it is not given. */
export function topPOption(v: string | undefined, fallback: number): number {
  const p = numberOption("top-p", v, fallback, 0, true);
  if (p > 1) throw new UserError(`--top-p: expected a number in (0, 1], got '${v}'`);
  return p;
}

/** One of `choices`; undefined when it is not given. */
export function choiceOption<T extends string>(name: string, v: string | undefined, choices: readonly T[]): T | undefined {
  if (v === undefined) return undefined;
  if ((choices as readonly string[]).includes(v)) return v as T;
  throw new UserError(`--${name}: expected one of ${choices.join(", ")}, got '${v}'`);
}

/** --loss-type of `view` and `report`: undefined leaves the choice to the run's config.json. */
export function lossTypeOption(v: string | undefined): LossType | undefined {
  return choiceOption("loss-type", v, LOSS_TYPES);
}

/** --port: 0..65535 (0 = any free port). */
export function portOption(v: string | undefined, fallback: number): number {
  if (v === undefined) return fallback;
  if (!/^\d{1,5}$/.test(v) || Number(v) > 65535) throw new UserError(`--port: expected a port number 0..65535, got '${v}'`);
  return Number(v);
}

/** The one positional argument of a command that takes exactly one (`what`: what it is, for the error). */
export function onePositional(command: string, positionals: string[], what: string): string {
  if (positionals.length !== 1) throw usageError(command, `expected one ${what}, got ${positionals.length}`);
  return positionals[0];
}

/** A required option's value. */
export function requiredOption(command: string, name: string, v: string | undefined): string {
  if (v === undefined) throw usageError(command, `--${name} is required`);
  return v;
}

/** -q, --quiet: no progress output (warnings and errors still print). */
const QUIET_OPTION = { quiet: { type: "boolean", short: "q" } } as const;

/** The options of a command that trains into output_dir (train, sft): --resume, --overwrite, --output-dir, -q. */
export const RUN_OPTIONS = {
  resume: { type: "boolean" },
  overwrite: { type: "boolean" },
  "output-dir": { type: "string" },
  ...QUIET_OPTION,
} as const;

/**
 * The options of an experiment command (toy, reasoning), which runs a sweep into one folder: --out the folder,
 * --jobs runs at once, --overwrite a sweep with other settings there, --json the summary on stdout, -q.
 */
export const EXPERIMENT_OPTIONS = {
  out: { type: "string" },
  jobs: { type: "string" },
  overwrite: { type: "boolean" },
  json: { type: "boolean" },
  ...QUIET_OPTION,
} as const;

/** --jobs: runs at once, >= 1; undefined leaves it to the machine's cores. */
export function jobsOption(v: string | undefined): number | undefined {
  return v === undefined ? undefined : intOption("jobs", v, 1);
}

/**
 * The two files an experiment writes into its --out folder, results.json (the summary) and report.html (the
 * offline report), checked before the sweep starts (src/io/outputs.ts).
 */
export async function experimentOutputs(out: string): Promise<{ results: string; report: string }> {
  const results = join(out, "results.json");
  const report = join(out, "report.html");
  await prepareOutputs({ outputs: [{ option: "--out", path: results }, { option: "--out", path: report }] });
  return { results, report };
}

type CommandOptions = NonNullable<ParseArgsConfig["options"]>;

/**
 * `--eps -1` as `--eps=-1`: parseArgs takes a value that starts with '-' for an option and stops with a
 * three-line hint; joined, the value reaches the option's own check ("--eps: expected a number >= 0").
 */
function negativeValues(argv: string[], options: CommandOptions): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const name = a.startsWith("--") ? a.slice(2) : Object.keys(options).find((k) => a === `-${options[k].short}`);
    const next = argv[i + 1];
    if (name !== undefined && options[name]?.type === "string" && next !== undefined && /^-(\d|\.\d|inf)/i.test(next)) {
      out.push(`--${name}=${next}`);
      i++;
    } else {
      out.push(a);
    }
    if (a === "--") {
      out.push(...argv.slice(i + 1));
      break;
    }
  }
  return out;
}
const HELP = { help: { type: "boolean", short: "h" } } as const;
type Parsed<T extends CommandOptions> = ReturnType<typeof parseArgs<{ args: string[]; options: T & typeof HELP; allowPositionals: true }>>;

/**
 * Parses a command's argv (its options plus `-h, --help`; positionals unless `allowPositionals` is false, when
 * one is parseArgs's "Unexpected argument" error); prints `usage` and returns null on --help, so a command
 * reads `const parsed = parseCommand(...); if (!parsed) return;`.
 */
export function parseCommand<T extends CommandOptions>(
  argv: string[],
  options: T,
  usage: string,
  allowPositionals = true,
): Parsed<T> | null {
  const parsed = parseArgs({ args: negativeValues(argv, options), allowPositionals, options: { ...options, ...HELP } });
  if ((parsed.values as { help?: boolean }).help) {
    console.log(usage);
    return null;
  }
  return parsed as Parsed<T>;
}
