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

/**
 * A message as one printable line: line breaks (with the indentation after them) become one space, other
 * control characters, and the U+FFFD that undecodable bytes become, are shown escaped. Parser messages
 * quote the input they stopped at, and a binary or multi-line input must not reach the terminal raw.
 */
export function oneLine(message: string): string {
  return message
    .replace(/\s*[\r\n\u2028\u2029]\s*/g, " ")
    .replace(/[\u0000-\u001f\u007f-\u009f\ufffd]/g, (c) => (c === "\t" ? " " : `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`));
}

/** Why a file operation failed, in short: its errno code (ENOENT, EACCES, ...), else its message. */
export function reason(err: unknown): string {
  return (err as NodeJS.ErrnoException).code ?? (err instanceof Error ? err.message : String(err));
}

/** "--out: cannot write report.html (ENOENT)": an output that could not be written, named by its option. */
export function cannotWrite(option: string, path: string, err: unknown): UserError {
  return new UserError(`${option}: cannot write ${path} (${reason(err)})`);
}
