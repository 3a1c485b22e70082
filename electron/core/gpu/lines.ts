/**
 * Captures arrive as pasted terminal sessions as often as raw output: a
 * `$ nvidia-smi ...` prompt line and `# note` lines around the real text.
 * Line-oriented parsers skip those so a pasted transcript parses like the output.
 */

export interface Line {
  /** 1-based, for warnings that point into the file. */
  number: number;
  text: string;
}

export function allLines(text: string): Line[] {
  const src = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  return src.split(/\r\n|\r|\n/).map((t, k) => ({ number: k + 1, text: t }));
}

export function isAnnotation(line: string): boolean {
  return /^\s*(#|\$\s)/.test(line);
}

/** Non-blank, non-annotation lines, trailing whitespace trimmed. */
export function contentLines(text: string): Line[] {
  return allLines(text)
    .map((l) => ({ number: l.number, text: l.text.trimEnd() }))
    .filter((l) => l.text.trim() !== '' && !isAnnotation(l.text));
}
