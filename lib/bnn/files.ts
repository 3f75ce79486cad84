import { closeSync, constants, promises as fs, fstatSync, openSync, readFileSync, type Stats } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { UserError } from '../errors';
import { fsError } from '../fs-errors';
import { formatMiB, MAX_INPUT_FILE_BYTES } from '../input-limits';

// Non-blocking: opening a FIFO must not wait for a writer; the type check refuses it.
const OPEN_FLAGS = constants.O_RDONLY | constants.O_NONBLOCK;

/** Only a regular file of at most `maxBytes`, checked on the open file before anything is read. */
function checkOpened(st: Stats, file: string, what: string, maxBytes: number): void {
  if (st.isDirectory()) throw new UserError(`${file}: is a folder, not a file (${what}); pass a file`);
  if (!st.isFile())
    throw new UserError(`${file}: not a regular file (${what}); pass a file, not a device or a pipe`);
  if (st.size > maxBytes)
    throw new UserError(
      `${file}: too large (${formatMiB(st.size)}; ${what} is read whole and may be at most ${formatMiB(maxBytes)}); check that this is the right file`,
    );
}

/** "No such file" and friends as one clear user error. */
function readError(err: unknown, file: string, what: string): UserError {
  if (err instanceof UserError) return err;
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return new UserError(`${file}: no such file (${what})`);
  if (code === 'EISDIR') return new UserError(`${file}: is a folder, not a file (${what}); pass a file`);
  return fsError(err, { path: file, what });
}

/**
 * Reads a whole input file, turning "no such file" and friends into one clear user error. Only regular
 * files (a FIFO or /dev/zero would never end) and at most `maxBytes` (lib/input-limits.ts), checked on the
 * open file before anything is read.
 */
export async function readInputFile(
  file: string,
  what: string,
  options: { maxBytes?: number } = {},
): Promise<Uint8Array> {
  let handle: FileHandle | undefined;
  try {
    handle = await fs.open(file, OPEN_FLAGS);
    checkOpened(await handle.stat(), file, what, options.maxBytes ?? MAX_INPUT_FILE_BYTES);
    return new Uint8Array(await handle.readFile());
  } catch (err) {
    throw readError(err, file, what);
  } finally {
    await handle?.close();
  }
}

/** readInputFile, synchronously: the same checks and messages (the param folder's small files, read in a row). */
export function readInputFileSync(
  file: string,
  what: string,
  options: { maxBytes?: number } = {},
): Uint8Array {
  let fd: number | undefined;
  try {
    fd = openSync(file, OPEN_FLAGS);
    checkOpened(fstatSync(fd), file, what, options.maxBytes ?? MAX_INPUT_FILE_BYTES);
    return new Uint8Array(readFileSync(fd));
  } catch (err) {
    throw readError(err, file, what);
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}
