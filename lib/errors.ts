/**
 * An error the user can fix: bad input, missing file, stack not deployed, ...
 * The CLI prints `error: <message>` (no stack trace) and exits with `exitCode`.
 * Messages say what is wrong, where (file, array, key), and what to do.
 */
export class UserError extends Error {
  readonly exitCode: number;
  constructor(message: string, options: { exitCode?: number; cause?: unknown } = {}) {
    super(message, { cause: options.cause });
    this.name = 'UserError';
    this.exitCode = options.exitCode ?? 2;
  }
}

/** The input file or folder is malformed (npz, npy, idx, param folder, classes file, ...). */
export class InputFormatError extends UserError {
  readonly file: string;
  constructor(file: string, problem: string) {
    super(`${file}: ${problem}`);
    this.name = 'InputFormatError';
    this.file = file;
  }
}
