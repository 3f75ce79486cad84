import { gzipSync } from 'node:zlib';
import { must } from '../defined';
import { InputFormatError } from '../errors';
import { formatMiB, gunzipBounded, InputTooLargeError, MAX_IDX_BYTES } from '../input-limits';

/**
 * The idx format of MNIST / Fashion-MNIST (http://yann.lecun.com/exdb/mnist/): a big-endian header
 * `00 00 <type 08 = ubyte> <ndim>` followed by `ndim` uint32 sizes and the data, row-major.
 * idx3 = images (count, rows, cols), idx1 = labels (count). Files may be gzip-compressed; we look at the
 * gzip magic, not the file name, so `foo.gz` that is already decompressed still loads.
 */

export interface IdxImages {
  count: number;
  rows: number;
  cols: number;
  /** count * rows * cols pixels, 0..255, image after image, row-major. */
  pixels: Uint8Array;
}

export interface IdxLabels {
  count: number;
  labels: Uint8Array;
}

const UBYTE = 0x08;

export const isGzip = (bytes: Uint8Array): boolean =>
  bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;

/** The size an idx header implies (header + items), or undefined when the bytes are not an idx header. */
export function idxSizeFromHeader(head: Uint8Array): number | undefined {
  if (head.length < 4 || head[0] !== 0 || head[1] !== 0 || head[2] !== UBYTE) return undefined;
  const ndim = must(head[3], 'the idx header');
  if (ndim < 1 || ndim > 4 || head.length < 4 + 4 * ndim) return undefined;
  const view = new DataView(head.buffer, head.byteOffset, head.byteLength);
  let size = 1;
  for (let i = 0; i < ndim; i++) size *= view.getUint32(4 + 4 * i, false);
  return 4 + 4 * ndim + size;
}

const IDX_HEAD_BYTES = 4 + 4 * 4;

/**
 * The raw idx bytes: gunzipped when the bytes are gzip. Decompression is streamed and stops at the size
 * the idx header implies (a longer stream is refused before it fills memory), and at MAX_IDX_BYTES
 * whatever the header says (lib/input-limits.ts).
 */
export function idxPayload(bytes: Uint8Array, fileName: string): Uint8Array {
  if (!isGzip(bytes)) {
    const implied = idxSizeFromHeader(bytes.subarray(0, IDX_HEAD_BYTES));
    if (implied !== undefined && implied > MAX_IDX_BYTES)
      throw new InputTooLargeError(fileName, `its header says ${formatMiB(implied)} of data`, MAX_IDX_BYTES);
    return bytes;
  }
  return gunzipBounded(bytes, {
    fileName,
    cap: MAX_IDX_BYTES,
    expectedSize: idxSizeFromHeader,
    tooLarge: (limit, exact) =>
      exact && limit <= MAX_IDX_BYTES
        ? new InputFormatError(
            fileName,
            `size disagrees with its header: header says ${limit} bytes, the gzip stream holds more; download it again`,
          )
        : new InputTooLargeError(
            fileName,
            exact
              ? `its header says ${formatMiB(limit)} of data`
              : `it decompresses to more than ${formatMiB(limit)}`,
            MAX_IDX_BYTES,
          ),
  });
}

function readHeader(data: Uint8Array, fileName: string, ndim: 1 | 3, kind: string): number[] {
  const headerLength = 4 + 4 * ndim;
  if (data.length < 4)
    throw new InputFormatError(fileName, `only ${data.length} bytes: too short for an idx file`);
  if (data[0] !== 0 || data[1] !== 0 || data[2] !== UBYTE || data[3] !== ndim) {
    const magic = [...data.subarray(0, 4)].map((b) => b.toString(16).padStart(2, '0')).join(' ');
    throw new InputFormatError(
      fileName,
      `wrong idx magic ${magic}: expected 00 00 08 0${ndim} (idx${ndim}, unsigned bytes: ${kind})`,
    );
  }
  if (data.length < headerLength)
    throw new InputFormatError(
      fileName,
      `truncated idx${ndim} header (${data.length} of ${headerLength} bytes)`,
    );
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const dims: number[] = [];
  for (let i = 0; i < ndim; i++) dims.push(view.getUint32(4 + 4 * i, false));
  const expected = headerLength + dims.reduce((a, b) => a * b, 1);
  if (data.length !== expected)
    throw new InputFormatError(
      fileName,
      `size disagrees with its header: header says ${dims.join(' x ')} (${expected} bytes), file has ${data.length} bytes`,
    );
  return dims;
}

/**
 * Commands that measure on images refuse an empty set (an accuracy on 0 images would read "0.00 %"); the
 * readers themselves accept one, since a dataset may have an empty split.
 */
export function refuseEmpty(set: { count: number }, fileName: string, kind: 'images' | 'labels'): void {
  if (set.count === 0)
    throw new InputFormatError(
      fileName,
      `holds no ${kind} (its header says 0); pass a file with at least one`,
    );
}

/** Reads an idx3 image file (raw or gzip). */
export function readIdxImages(bytes: Uint8Array, fileName: string): IdxImages {
  const data = idxPayload(bytes, fileName);
  const [count, rows, cols] = readHeader(data, fileName, 3, 'images') as [number, number, number];
  return { count, rows, cols, pixels: data.subarray(16) };
}

/** Reads an idx1 label file (raw or gzip). */
export function readIdxLabels(bytes: Uint8Array, fileName: string): IdxLabels {
  const data = idxPayload(bytes, fileName);
  const [count] = readHeader(data, fileName, 1, 'labels') as [number];
  return { count, labels: data.subarray(8) };
}

function header(ndim: number, dims: number[]): Uint8Array {
  const out = new Uint8Array(4 + 4 * ndim);
  const view = new DataView(out.buffer);
  out[2] = UBYTE;
  out[3] = ndim;
  dims.forEach((d, i) => {
    view.setUint32(4 + 4 * i, d, false);
  });
  return out;
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}

const maybeGzip = (raw: Uint8Array, gzip: boolean): Uint8Array => {
  if (!gzip) return raw;
  const out = gzipSync(raw, { level: 6 });
  return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
};

/** Writes an idx3 image file; gzip-compressed unless `{ gzip: false }`. */
export function writeIdxImages(images: IdxImages, options: { gzip?: boolean } = {}): Uint8Array {
  const { count, rows, cols, pixels } = images;
  if (pixels.length !== count * rows * cols)
    throw new RangeError(`writeIdxImages: ${pixels.length} pixels for ${count} x ${rows} x ${cols}`);
  return maybeGzip(concat(header(3, [count, rows, cols]), pixels), options.gzip ?? true);
}

/** Writes an idx1 label file; gzip-compressed unless `{ gzip: false }`. */
export function writeIdxLabels(labels: IdxLabels | Uint8Array, options: { gzip?: boolean } = {}): Uint8Array {
  const values = labels instanceof Uint8Array ? labels : labels.labels;
  if (!(labels instanceof Uint8Array) && labels.count !== values.length)
    throw new RangeError(`writeIdxLabels: count ${labels.count} but ${values.length} labels`);
  return maybeGzip(concat(header(1, [values.length]), values), options.gzip ?? true);
}

/** The images `start..end-1` of a set, as a new IdxImages (shares the pixel memory). */
export function sliceImages(images: IdxImages, start: number, end: number): IdxImages {
  const size = images.rows * images.cols;
  return { ...images, count: end - start, pixels: images.pixels.subarray(start * size, end * size) };
}

export function sliceLabels(labels: IdxLabels, start: number, end: number): IdxLabels {
  return { count: end - start, labels: labels.labels.subarray(start, end) };
}
