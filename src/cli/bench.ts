import { UserError } from "../util/errors.js";

export async function main(_argv: string[]): Promise<void> {
  throw new UserError("'bench' is not implemented yet");
}
