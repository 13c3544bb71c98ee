/** Shared by the trainer tests (in-process and through the CLI). */

/** metrics.jsonl lines without `seconds`, the one field that differs between identical runs. */
export function withoutSeconds(text: string): string[] {
  return text
    .trim()
    .split("\n")
    .map((l) => {
      const o = JSON.parse(l);
      delete o.seconds;
      return JSON.stringify(o);
    });
}
