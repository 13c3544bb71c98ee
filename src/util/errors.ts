/**
 * An error meant for a person: the CLI prints its message as one line (no stack) and exits non-zero.
 * Say where (file, line, field) and what was expected.
 */
export class UserError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UserError";
  }
}

/** "file:line: field: message", the one format for input errors. */
export function inputError(file: string, line: number | null, field: string | null, message: string): UserError {
  const where = line === null ? file : `${file}:${line}`;
  return new UserError(field ? `${where}: ${field}: ${message}` : `${where}: ${message}`);
}
