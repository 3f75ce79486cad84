import { gunzipSync, constants as zlibConstants } from 'node:zlib';
import { InputFormatError } from './errors';

/**
 * How much any reader of user files may hold in memory, and the bounded gunzip they share.
 *
 * Every input is read whole (idx, npz, classes files) or one entry at a time (a dataset .zip), so its size
 * decides peak memory. The caps below keep one command under 512 MB RSS on any input, hostile or not
 * (a gzip or zip "bomb": a small file that decompresses to gigabytes), while staying far above every
 * legitimate input (docs/convert-verify.md "Input limits"):
 *
 * - an idx file (raw or gzip): at most MAX_IDX_BYTES decompressed. MNIST/Fashion-MNIST training images are
 *   47 MB; 50,000 32×32 RGB images are 154 MB.
 * - a model .npz: at most MAX_NPZ_BYTES of arrays. lfcW1A1 in float64 is about 30 MB.
 * - one image file of a dataset (in a folder or a .zip): at most MAX_IMAGE_FILE_BYTES.
 *
 * Exceeding a cap is reported as "too large" (with the cap), never as a corrupt file.
 */
export const MIB = 1024 * 1024;
export const MAX_IDX_BYTES = 192 * MIB;
export const MAX_NPZ_BYTES = 192 * MIB;
/** Any single input file read whole (the compressed size of the inputs above). */
export const MAX_INPUT_FILE_BYTES = 192 * MIB;
export const MAX_IMAGE_FILE_BYTES = 64 * MIB;

export const formatMiB = (bytes: number): string =>
  bytes >= MIB ? `${(bytes / MIB).toFixed(bytes >= 10 * MIB ? 0 : 1)} MiB` : `${bytes} bytes`;

/** An input that exceeds a documented cap: says so, with the cap, instead of calling the file invalid. */
export class InputTooLargeError extends InputFormatError {
  constructor(file: string, what: string, cap: number) {
    super(
      file,
      `too large: ${what}, more than the ${formatMiB(cap)} limit of this reader (see docs/convert-verify.md, "Input limits"); check that this is the right file`,
    );
    this.name = 'InputTooLargeError';
  }
}

/** Compressed bytes inflated to read a header: deflate expands at most ~1032×, so ≤ about 1 MB out. */
const HEAD_INPUT_BYTES = 1024;

const isTooLarge = (err: unknown) => (err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE';

/**
 * Gunzips `bytes` and stops as soon as the output would pass the size the content implies or the cap.
 * The first bytes are inflated alone and `expectedSize(head)` is asked what the whole must be (an idx
 * header gives it exactly); undefined means "not this format": the head itself is returned, so the
 * caller's format check names the problem without inflating the rest. Memory: the input plus one buffer
 * of the allowed size (zlib writes into a single chunk of that size; one byte more throws).
 */
export function gunzipBounded(
  bytes: Uint8Array,
  options: {
    fileName: string;
    cap: number;
    /** The exact decompressed size the first bytes imply (undefined: not this format). */
    expectedSize: (head: Uint8Array) => number | undefined;
    /** The error for output that passes `limit`; `exact`: the limit came from the content, not the cap. */
    tooLarge: (limit: number, exact: boolean) => Error;
  },
): Uint8Array {
  const invalid = (err: unknown) =>
    new InputFormatError(
      options.fileName,
      `not a valid gzip file (${(err as Error).message}); download it again or pass the uncompressed file`,
    );
  let head: Buffer;
  try {
    head = gunzipSync(bytes.subarray(0, HEAD_INPUT_BYTES), {
      finishFlush: zlibConstants.Z_SYNC_FLUSH,
      maxOutputLength: 2 * MIB,
    });
  } catch (err) {
    if (!isTooLarge(err)) throw invalid(err);
    head = Buffer.alloc(0);
  }
  const expected = options.expectedSize(head);
  if (expected === undefined && head.length >= 4)
    return new Uint8Array(head.buffer, head.byteOffset, head.length);
  if (expected !== undefined && expected > options.cap) throw options.tooLarge(expected, true);
  const limit = expected ?? options.cap;
  try {
    const out = gunzipSync(bytes, {
      chunkSize: Math.max(limit + 1, 64),
      maxOutputLength: Math.max(limit, 1),
    });
    return new Uint8Array(out.buffer, out.byteOffset, out.length);
  } catch (err) {
    if (isTooLarge(err)) throw options.tooLarge(limit, expected !== undefined);
    throw invalid(err);
  }
}
