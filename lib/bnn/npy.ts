import { must } from '../defined';
import { InputFormatError } from '../errors';
import type { NdArray, NpyDtype } from './types';

/**
 * Reads one `.npy` (format versions 1.0, 2.0, 3.0; https://numpy.org/doc/stable/reference/generated/numpy.lib.format.html).
 * Only little-endian float32/float64: what `np.savez` of Lasagne parameters produces. Fortran-order arrays
 * (a transposed array saved as is, e.g. the shared reconstructed MNIST fixture) are reordered into C order,
 * as `np.load` does; every reader downstream sees C order.
 * `where` names the array in messages, e.g. `model.npz: arr_3`.
 */
const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY

export function readNpy(bytes: Uint8Array, where: string, name: string): NdArray {
  const fail = (problem: string): never => {
    throw new InputFormatError(where, problem);
  };
  if (bytes.length < 10 || MAGIC.some((b, i) => bytes[i] !== b)) fail('not a .npy array (bad magic)');
  const major = bytes[6];
  let headerLength: number;
  let offset: number;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (major === 1) {
    headerLength = view.getUint16(8, true);
    offset = 10;
  } else if (major === 2 || major === 3) {
    if (bytes.length < 12) fail('truncated .npy header');
    headerLength = view.getUint32(8, true);
    offset = 12;
  } else {
    return fail(`unsupported .npy format version ${major}.${bytes[7]} (expected 1.0, 2.0 or 3.0)`);
  }
  if (offset + headerLength > bytes.length) fail('truncated .npy header');
  const header = new TextDecoder(major === 3 ? 'utf-8' : 'latin1').decode(
    bytes.subarray(offset, offset + headerLength),
  );
  const descr = /'descr'\s*:\s*'([^']*)'/.exec(header)?.[1];
  const fortran = /'fortran_order'\s*:\s*(True|False)/.exec(header)?.[1];
  const shapeText = /'shape'\s*:\s*\(([^)]*)\)/.exec(header)?.[1];
  if (descr === undefined || fortran === undefined || shapeText === undefined)
    fail(`malformed .npy header ${JSON.stringify(header.trim().slice(0, 120))}`);
  let dtype: NpyDtype;
  if (descr === '<f4' || descr === '<f8') dtype = descr;
  else
    return fail(
      `unsupported dtype '${descr}': expected little-endian float32 '<f4' or float64 '<f8' (Lasagne parameters)`,
    );
  const shape: number[] = [];
  for (const part of (shapeText as string).split(',')) {
    const t = part.trim();
    if (t === '') continue;
    if (!/^\d{1,9}$/.test(t)) fail(`malformed shape (${shapeText})`);
    shape.push(Number(t));
  }
  const count = shape.reduce((a, b) => a * b, 1);
  const itemSize = dtype === '<f4' ? 4 : 8;
  const dataStart = offset + headerLength;
  const expected = count * itemSize;
  if (bytes.length - dataStart !== expected)
    fail(
      `data is ${bytes.length - dataStart} bytes but shape (${shape.join(', ')}) of ${dtype} needs ${expected}: truncated or corrupt`,
    );
  const data = new Float64Array(count);
  // Aligned fast path: copy into an aligned buffer once, then widen.
  const raw = bytes.slice(dataStart, dataStart + expected);
  // Float64Array.set widens float32 values exactly.
  data.set(dtype === '<f4' ? new Float32Array(raw.buffer, 0, count) : new Float64Array(raw.buffer, 0, count));
  if (fortran === 'True' && shape.length > 1) return { name, dtype, shape, data: fortranToC(data, shape) };
  return { name, dtype, shape, data };
}

/** Reorders a column-major (Fortran) buffer into row-major (C) order. */
function fortranToC(src: Float64Array, shape: number[]): Float64Array {
  const out = new Float64Array(src.length);
  if (shape.length === 2) {
    const rows = must(shape[0], 'the shape');
    const cols = must(shape[1], 'the shape');
    for (let c = 0; c < cols; c++)
      for (let r = 0; r < rows; r++) out[r * cols + c] = must(src[c * rows + r], 'the Fortran-order data');
    return out;
  }
  // General n-D: walk the C index and compute the Fortran offset.
  const n = shape.length;
  const fStride: number[] = [];
  let s = 1;
  for (const size of shape) {
    fStride.push(s);
    s *= size;
  }
  const idx = new Array<number>(n).fill(0);
  for (let i = 0; i < out.length; i++) {
    let off = 0;
    for (let d = 0; d < n; d++) off += must(idx[d], 'the index') * must(fStride[d], 'the strides');
    out[i] = must(src[off], 'the Fortran-order data');
    for (let d = n - 1; d >= 0; d--) {
      const next = must(idx[d], 'the index') + 1;
      if (next < must(shape[d], 'the shape')) {
        idx[d] = next;
        break;
      }
      idx[d] = 0;
    }
  }
  return out;
}
