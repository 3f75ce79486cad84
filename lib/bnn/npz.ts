import { unzipSync } from 'fflate';
import { InputFormatError } from '../errors';
import { readNpy } from './npy';
import type { NdArray } from './types';

/**
 * Reads an `.npz` (a zip of `.npy` files, stored by `np.savez` or deflated by `np.savez_compressed`).
 * The zip container is fflate's; every way it can fail becomes an InputFormatError naming the file.
 */
/** Far above any LFC array (the largest, 1024 x 1024 float64, is 8 MiB). */
const MAX_ENTRY_BYTES = 256 * 1024 * 1024;

export function readNpz(bytes: Uint8Array, fileName: string): Map<string, NdArray> {
  if (bytes.length < 4 || bytes[0] !== 0x50 || bytes[1] !== 0x4b)
    throw new InputFormatError(
      fileName,
      'not a zip/npz file (no PK signature); pass the model.npz that training wrote',
    );
  let entries: Record<string, Uint8Array>;
  let tooBig: string | undefined;
  try {
    entries = unzipSync(bytes, {
      // A corrupt size field must not make us allocate gigabytes: no LFC array is near this size.
      filter: (f) => {
        if (f.originalSize > MAX_ENTRY_BYTES || f.size > bytes.length) tooBig ??= f.name;
        return tooBig === undefined;
      },
    });
  } catch (err) {
    throw new InputFormatError(
      fileName,
      `corrupt or truncated zip (${(err as Error).message}); download the model again`,
    );
  }
  if (tooBig !== undefined)
    throw new InputFormatError(
      fileName,
      `corrupt zip: entry '${tooBig}' claims an impossible size; download the model again`,
    );
  const arrays = new Map<string, NdArray>();
  for (const [entry, data] of Object.entries(entries)) {
    if (entry.endsWith('/')) continue;
    if (!entry.endsWith('.npy'))
      throw new InputFormatError(fileName, `unexpected entry '${entry}' (an npz holds only .npy arrays)`);
    const name = entry.slice(0, -4);
    arrays.set(name, readNpy(data, `${fileName}: ${name}`, name));
  }
  if (arrays.size === 0) throw new InputFormatError(fileName, 'the npz holds no arrays');
  return arrays;
}
