/**
 * Where the CLI writes. Commands take a Terminal so tests can capture output; live elements
 * (spinner, redrawn progress line) are used only on a TTY, and colour only when NO_COLOR is unset.
 */
export interface Terminal {
  out(text: string): void;
  err(text: string): void;
  /** stderr is an interactive terminal: redraw in place. */
  live: boolean;
  color: boolean;
  columns: number;
}

export function processTerminal(env: NodeJS.ProcessEnv = process.env): Terminal {
  const live = Boolean(process.stderr.isTTY) && env.TERM !== 'dumb' && !env.CI;
  return {
    out: (t) => process.stdout.write(t),
    err: (t) => process.stderr.write(t),
    live,
    color: live && env.NO_COLOR === undefined && env.FORCE_COLOR !== '0',
    columns: process.stderr.columns || 100,
  };
}

/** A terminal that records everything (tests, and `--json`-style capture). */
export function captureTerminal(): Terminal & { stdout: string; stderr: string } {
  const t = {
    stdout: '',
    stderr: '',
    live: false,
    color: false,
    columns: 100,
    out(text: string) {
      t.stdout += text;
    },
    err(text: string) {
      t.stderr += text;
    },
  };
  return t;
}

const SGR = {
  bold: [1, 22],
  dim: [2, 22],
  red: [31, 39],
  green: [32, 39],
  yellow: [33, 39],
  cyan: [36, 39],
} as const;
export type Style = keyof typeof SGR;

/** Wraps text in an ANSI style when the terminal wants colour. */
export const paint = (term: Pick<Terminal, 'color'>, style: Style, text: string): string =>
  term.color ? `\x1b[${SGR[style][0]}m${text}\x1b[${SGR[style][1]}m` : text;
