import { must } from '../defined';
import { InputFormatError } from '../errors';

/**
 * CIFAR-10 binary records (https://www.cs.toronto.edu/~kriz/cifar.html, the `cifar-10-batches-bin`
 * format BNN-PYNQ's host reads): each record is 1 label byte followed by 1,024 red, 1,024 green and
 * 1,024 blue bytes, each plane 32 x 32 row-major. A file is any number of whole records.
 */
export const CIFAR_SIDE = 32;
export const CIFAR_PIXELS = CIFAR_SIDE * CIFAR_SIDE;
export const CIFAR_RECORD = 1 + 3 * CIFAR_PIXELS;

export interface CifarRecords {
  count: number;
  labels: Uint8Array;
  /** count x 3,072 bytes, planar per image (R plane, G plane, B plane), as in the file. */
  pixels: Uint8Array;
}

/** Reads CIFAR-10 binary records; the file must be a non-empty whole number of 3,073-byte records. */
export function readCifarRecords(bytes: Uint8Array, fileName: string): CifarRecords {
  if (bytes.length === 0 || bytes.length % CIFAR_RECORD !== 0)
    throw new InputFormatError(
      fileName,
      `${bytes.length} bytes is not a whole number of CIFAR-10 records (1 label byte + 3,072 pixel bytes = ${CIFAR_RECORD} bytes each); pass a cifar-10-batches-bin file such as test_batch.bin`,
    );
  const count = bytes.length / CIFAR_RECORD;
  const labels = new Uint8Array(count);
  const pixels = new Uint8Array(count * (CIFAR_RECORD - 1));
  for (let i = 0; i < count; i++) {
    labels[i] = must(bytes[i * CIFAR_RECORD], 'the records');
    pixels.set(bytes.subarray(i * CIFAR_RECORD + 1, (i + 1) * CIFAR_RECORD), i * (CIFAR_RECORD - 1));
  }
  return { count, labels, pixels };
}

/** Writes CIFAR-10 binary records (the inverse of readCifarRecords). */
export function writeCifarRecords(records: CifarRecords): Uint8Array {
  const { count, labels, pixels } = records;
  if (labels.length !== count || pixels.length !== count * (CIFAR_RECORD - 1))
    throw new RangeError(
      `writeCifarRecords: ${count} records, ${labels.length} labels, ${pixels.length} pixel bytes`,
    );
  const out = new Uint8Array(count * CIFAR_RECORD);
  for (let i = 0; i < count; i++) {
    out[i * CIFAR_RECORD] = must(labels[i], 'the labels');
    out.set(pixels.subarray(i * (CIFAR_RECORD - 1), (i + 1) * (CIFAR_RECORD - 1)), i * CIFAR_RECORD + 1);
  }
  return out;
}

/**
 * The byte the host sends for pixel value p (docs/overlays.md §3.1): the float -1 + 2p/255 quantized
 * to ap_fixed<8,1> with round-half-up and saturation, as a signed byte k (value k/128). Closed form:
 * p - 128 for p <= 127, p - 127 for 128 <= p <= 254, 127 for p = 255 (0 never occurs).
 */
export function hostInputByte(p: number): number {
  if (p <= 127) return p - 128;
  if (p <= 254) return p - 127;
  return 127;
}
