/**
 * The environment registry: `env.name` in a config picks one. Add a task by writing an EnvironmentKind and
 * listing it here.
 */
import { UserError } from "../../util/errors.js";
import type { EnvConfig } from "../config.js";
import { mathKind } from "./math.js";
import { treeKind } from "./tree.js";
import type { Environment, EnvironmentContext, EnvironmentKind } from "./types.js";

export type { Environment, EnvironmentContext, EnvironmentKind, Prompt, ScoredCompletion } from "./types.js";

// eslint-disable-next-line @typescript-eslint/no-explicit-any
const KINDS: Record<string, EnvironmentKind<any>> = { [treeKind.name]: treeKind, [mathKind.name]: mathKind };

export function environmentNames(): string[] {
  return Object.keys(KINDS);
}

/** Validates `env` (name and parameters), filling in the env's defaults. */
export function validateEnv(env: { name: string } & Record<string, unknown>): EnvConfig {
  const kind = KINDS[env.name];
  if (!kind) throw new UserError(`env.name: unknown environment '${env.name}' (expected one of: ${environmentNames().join(", ")})`);
  return kind.parse(env);
}

/** Builds the environment of a resolved env config for a model (its vocabulary size, the config's `model`). */
export async function createEnvironment(env: EnvConfig, context: EnvironmentContext): Promise<Environment> {
  const kind = KINDS[env.name];
  if (!kind) throw new UserError(`env.name: unknown environment '${env.name}'`);
  return kind.create(kind.parse(env), context);
}
