/**
 * The config file and line of a trainer's error. `train` and `sft` check their configs up front
 * (src/rl/config.ts: `file:line: field: message`), but some problems show only when the policy is built or the
 * run directory opened (lora.r against an adapter's adapter_config.json, `lora:` on a GPT-2, max_length
 * against the model's context): the trainers throw those as a UserError beginning with the field
 * ("lora.r: ..."), without the file, which only the command knows.
 */
import { existsSync } from "node:fs";
import { readConfigFile } from "../rl/config.js";
import { UserError } from "../util/errors.js";

/**
 * `err` with `source:line: ` in front of its message when it is a UserError beginning with a field of the
 * config (the field's line in `source`), `source: ` when it begins otherwise; a message that begins with a
 * file that exists (of the run, of a model directory) already says where, and is left as it is.
 */
export async function atConfigLine(err: unknown, source: string): Promise<unknown> {
  if (!(err instanceof UserError) || existsSync(err.message.split(": ")[0])) return err;
  const field = /^([A-Za-z_]\w*(?:\.\w+)*): /.exec(err.message)?.[1];
  const line = field === undefined ? null : await readConfigFile(source).then(({ locate }) => locate(field.split(".")), () => null);
  err.message = `${line === null ? source : `${source}:${line}`}: ${err.message}`;
  return err;
}
