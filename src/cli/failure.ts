/**
 * How a command's failure reaches the user: a `UserError` is one printable line (util/errors.ts oneLine:
 * whatever input a parser quoted in it) and status 1; a misuse of the options
 * (node:util parseArgs's errors) is one line pointing at --help and status 2; anything else is a bug and
 * keeps its stack (null here). src/cli/main.ts prints these; the fuzz test (test/cli/fuzz.test.ts) holds
 * every command to them.
 */
import { oneLine, UserError } from "../util/errors.js";

export function describeFailure(command: string, err: unknown): { status: 1 | 2; message: string } | null {
  if (err instanceof UserError) return { status: 1, message: `lambda-grpo ${command}: ${oneLine(err.message)}` };
  // node:util parseArgs: an unknown option, a missing value, a value given to a flag, a stray argument
  if (err instanceof TypeError && (err as NodeJS.ErrnoException).code?.startsWith("ERR_PARSE_ARGS_")) {
    // its first line only: the rest is a hint on '--opt=-value' and positionals starting with '-' (src/cli/args.ts
    // already passes negative numbers as values)
    const message = err.message.split("\n")[0].replace(/\. To specify a positional argument.*$/s, "");
    return { status: 2, message: `lambda-grpo ${command}: ${message} (see 'lambda-grpo ${command} --help')` };
  }
  return null;
}
