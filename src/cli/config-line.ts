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

const FIELD = /^[A-Za-z_]\w*(?:\.\w+)*$/;

/**
 * `err` with `source:line: ` in front of its message when it is a UserError beginning with a field of the
 * config (the field's line in `source`, or its enclosing mapping's), `source: ` when it begins otherwise.
 * A message that begins with a place of its own (the config's path, another file that exists, `file:line`
 * of one: a file of the run, of a model directory) already says where, and is left as it is. A head that
 * is both (a field written in the config whose name is also a file here) is the field.
 */
export async function atConfigLine(err: unknown, source: string): Promise<unknown> {
  if (!(err instanceof UserError)) return err;
  const head = err.message.split(": ")[0];
  const config = FIELD.test(head) ? await readConfigFile(source).catch(() => null) : null;
  const field = head.split(".");
  if (namesPlace(head) && !(config !== null && written(config.data, field))) return err;
  const line = config?.locate(field) ?? null;
  err.message = `${line === null ? source : `${source}:${line}`}: ${err.message}`;
  return err;
}

/** Whether a message's head is a file that exists or `file:line` of one. */
function namesPlace(head: string): boolean {
  const at = /^(.+):\d+$/.exec(head);
  return existsSync(head) || (at !== null && existsSync(at[1]));
}

/** Whether the config's document sets the field at `path` itself (not only a mapping above it). */
function written(data: unknown, path: string[]): boolean {
  let node = data;
  for (const key of path) {
    if (node === null || typeof node !== "object" || !Object.hasOwn(node, key)) return false;
    node = (node as Record<string, unknown>)[key];
  }
  return true;
}
