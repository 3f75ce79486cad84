import { InputFormatError } from './errors';

/**
 * The one rule for class names, whichever command reads them (convert --classes, dataset import --classes
 * and its class folder names): at least one, each non-empty after trimming surrounding spaces, no two
 * alike, no control characters (a line break would shift every later label in classes.txt; the board
 * prints the names), and at most MAX_CLASS_NAMES of them (the LFC overlay has 64 outputs; an overlay
 * with fewer passes its own `max`).
 */
export const MAX_CLASS_NAMES = 64;

// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what this finds
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/;

/** Splits a classes file into names: one per line, surrounding spaces trimmed, trailing blank lines dropped. */
export function splitClassLines(text: string): string[] {
  const names = text
    .replace(/^\uFEFF/, '')
    .split(/\r?\n/)
    .map((l) => l.trim());
  while (names.length > 0 && names[names.length - 1] === '') names.pop();
  return names;
}

/**
 * Checks `names` against the rule; `where` is the file (or folder) named in the message, `line` says
 * whether positions are lines of a file (else the names are quoted only).
 */
export function checkClassNames(
  names: readonly string[],
  where: string,
  options: { max?: number; maxLabel?: string; lines?: boolean } = {},
): void {
  const max = options.max ?? MAX_CLASS_NAMES;
  const at = (i: number) => (options.lines === false ? '' : `line ${i + 1}: `);
  if (names.length === 0) throw new InputFormatError(where, 'no class names; write one class name per line');
  const seen = new Map<string, number>();
  for (const [i, name] of names.entries()) {
    if (name === '')
      throw new InputFormatError(
        where,
        `${options.lines === false ? 'a class name is empty' : `line ${i + 1} is empty`}; write one class name per line`,
      );
    if (CONTROL.test(name))
      throw new InputFormatError(
        where,
        `${at(i)}class name ${JSON.stringify(name)} contains a control character; rename it`,
      );
    const first = seen.get(name);
    if (first !== undefined)
      throw new InputFormatError(
        where,
        `${at(i)}class '${name}' is listed twice${options.lines === false ? '' : ` (also line ${first + 1})`}; every class needs its own name`,
      );
    seen.set(name, i);
  }
  if (names.length > max)
    throw new InputFormatError(
      where,
      `${names.length} class names, but ${options.maxLabel ?? 'the overlay'} has at most ${max} outputs`,
    );
}

/** Reads a classes file's text into checked names. */
export function parseClassFile(
  text: string,
  where: string,
  options: { max?: number; maxLabel?: string } = {},
): string[] {
  const names = splitClassLines(text);
  checkClassNames(names, where, options);
  return names;
}
