import { unzipSync } from 'fflate';
import { InputFormatError } from '../errors';
import { formatMiB, InputTooLargeError, MAX_NPZ_BYTES } from '../input-limits';
import { readNpy } from './npy';
import type { NdArray } from './types';

/**
 * Reads an `.npz` (a zip of `.npy` files, stored by `np.savez` or deflated by `np.savez_compressed`).
 * The zip container is fflate's; every way it can fail becomes an InputFormatError naming the file.
 *
 * Memory is bounded by the sizes the zip's central directory declares: fflate inflates each entry into a
 * buffer of exactly its declared size (a stream that is longer is cut there, and the .npy check then fails),
 * so refusing a total above MAX_NPZ_BYTES (lib/input-limits.ts) before it is inflated bounds the whole read.
 */
export function readNpz(bytes: Uint8Array, fileName: string): Map<string, NdArray> {
  if (bytes.length < 4 || bytes[0] !== 0x50 || bytes[1] !== 0x4b)
    throw new InputFormatError(
      fileName,
      'not a zip/npz file (no PK signature); pass the model.npz that training wrote',
    );
  let entries: Record<string, Uint8Array>;
  let impossible: string | undefined;
  let total = 0;
  let tooLarge = false;
  try {
    entries = unzipSync(bytes, {
      filter: (f) => {
        if (f.size > bytes.length) impossible ??= f.name;
        total += f.originalSize;
        if (total > MAX_NPZ_BYTES) tooLarge = true;
        return impossible === undefined && !tooLarge;
      },
    });
  } catch (err) {
    throw new InputFormatError(
      fileName,
      `corrupt or truncated zip (${(err as Error).message}); download the model again`,
    );
  }
  if (impossible !== undefined)
    throw new InputFormatError(
      fileName,
      `corrupt zip: entry '${impossible}' claims to be larger than the file; download the model again`,
    );
  if (tooLarge)
    throw new InputTooLargeError(
      fileName,
      `its arrays decompress to at least ${formatMiB(total)}`,
      MAX_NPZ_BYTES,
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
