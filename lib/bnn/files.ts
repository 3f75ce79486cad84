import { constants, promises as fs } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { UserError } from '../errors';
import { fsError } from '../fs-errors';
import { formatMiB, MAX_INPUT_FILE_BYTES } from '../input-limits';

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
  const maxBytes = options.maxBytes ?? MAX_INPUT_FILE_BYTES;
  let handle: FileHandle | undefined;
  try {
    // Non-blocking: opening a FIFO must not wait for a writer; the type check below refuses it.
    handle = await fs.open(file, constants.O_RDONLY | constants.O_NONBLOCK);
    const st = await handle.stat();
    if (st.isDirectory()) throw new UserError(`${file}: is a folder, not a file (${what}); pass a file`);
    if (!st.isFile())
      throw new UserError(`${file}: not a regular file (${what}); pass a file, not a device or a pipe`);
    if (st.size > maxBytes)
      throw new UserError(
        `${file}: too large (${formatMiB(st.size)}; ${what} is read whole and may be at most ${formatMiB(maxBytes)}); check that this is the right file`,
      );
    return new Uint8Array(await handle.readFile());
  } catch (err) {
    if (err instanceof UserError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new UserError(`${file}: no such file (${what})`);
    if (code === 'EISDIR') throw new UserError(`${file}: is a folder, not a file (${what}); pass a file`);
    throw fsError(err, { path: file, what });
  } finally {
    await handle?.close();
  }
}
