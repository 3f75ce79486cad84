import { promises as fs } from 'node:fs';
import { UserError } from '../errors';

/** Reads a whole input file, turning "no such file" and friends into one clear user error. */
export async function readInputFile(file: string, what: string): Promise<Uint8Array> {
  try {
    return new Uint8Array(await fs.readFile(file));
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why =
      code === 'ENOENT'
        ? 'no such file'
        : code === 'EISDIR'
          ? 'is a folder, not a file'
          : (err as Error).message;
    throw new UserError(`${file}: ${why} (${what})`);
  }
}
