import { UserError } from "../util/errors.js";

export async function main(_argv: string[]): Promise<void> {
  throw new UserError("'analyze' is not implemented yet");
}
