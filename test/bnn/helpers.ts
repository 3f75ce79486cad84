import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { zipSync } from 'fflate';
import { mulberry32 } from '../../lib/dataset/random';
import { must } from '../../lib/defined';
import { SHARED_DATA } from '../support/cli';

/** Test-only writers for .npy / .npz files, so every malformed input can be built on purpose. */

export interface NpyOptions {
  descr?: string;
  fortran?: boolean;
  version?: 1 | 2 | 3;
  /** Raw header dict text instead of the generated one. */
  header?: string;
}

export function npy(shape: number[], data: ArrayLike<number>, options: NpyOptions = {}): Uint8Array {
  const descr = options.descr ?? '<f4';
  const fortran = options.fortran ?? false;
  const version = options.version ?? 1;
  const shapeText = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
  let dict =
    options.header ??
    `{'descr': '${descr}', 'fortran_order': ${fortran ? 'True' : 'False'}, 'shape': ${shapeText}, }`;
  const pre = version === 1 ? 10 : 12;
  const total = Math.ceil((pre + dict.length + 1) / 64) * 64;
  dict = `${dict}${' '.repeat(total - pre - dict.length - 1)}\n`;
  const head = new Uint8Array(pre);
  head.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, version, 0]);
  const dv = new DataView(head.buffer);
  if (version === 1) dv.setUint16(8, dict.length, true);
  else dv.setUint32(8, dict.length, true);
  let body: Uint8Array;
  if (descr === '<f8') body = new Uint8Array(Float64Array.from(data).buffer);
  else if (descr === '<f4') body = new Uint8Array(Float32Array.from(data).buffer);
  else body = new Uint8Array(data.length * 4);
  const out = new Uint8Array(pre + dict.length + body.length);
  out.set(head);
  out.set(new TextEncoder().encode(dict), pre);
  out.set(body, pre + dict.length);
  return out;
}

export function npz(entries: Record<string, Uint8Array>, options: { deflate?: boolean } = {}): Uint8Array {
  const files: Record<string, [Uint8Array, { level: 0 | 1 }]> = {};
  for (const [name, bytes] of Object.entries(entries))
    files[`${name}.npy`] = [bytes, { level: options.deflate ? 1 : 0 }];
  return zipSync(files);
}

/** Deterministic pseudo-random numbers (mulberry32, the dataset split's own generator). */
export const rng = mulberry32;

export interface ModelArrays {
  shapes: number[][];
  data: Float64Array[];
}

/** A random lfcW1A1 model in the training script's layout (24 arrays), with sane batch-norm terms. */
const modelCache = new Map<string, ModelArrays>();
export function randomLfcArrays(classes = 10, seed = 1): ModelArrays {
  const key = `${classes}/${seed}`;
  let m = modelCache.get(key);
  if (!m) {
    m = makeRandomLfcArrays(classes, seed);
    modelCache.set(key, m);
  }
  // A fresh copy: tests edit arrays in place.
  return { shapes: m.shapes.map((s) => [...s]), data: m.data.map((d) => d.slice()) };
}

function makeRandomLfcArrays(classes: number, seed: number): ModelArrays {
  const r = rng(seed);
  const dims = [784, 1024, 1024, 1024, classes];
  const shapes: number[][] = [];
  const data: Float64Array[] = [];
  for (let l = 0; l < 4; l++) {
    const fanIn = must(dims[l], 'dims[l]');
    const fanOut = must(dims[l + 1], 'dims[l + 1]');
    shapes.push([fanIn, fanOut]);
    data.push(Float64Array.from({ length: fanIn * fanOut }, () => r() * 2 - 1));
    const vec = (f: () => number) => Float64Array.from({ length: fanOut }, f);
    const push = (v: Float64Array) => {
      shapes.push([fanOut]);
      data.push(v);
    };
    push(vec(() => (r() - 0.5) * 4)); // b
    push(vec(() => (r() - 0.5) * 2)); // beta
    push(vec(() => (r() < 0.3 ? -1 : 1) * (0.5 + r()))); // gamma, ~30 % negative
    push(vec(() => (r() - 0.5) * 20)); // mean
    push(vec(() => 0.02 + r() * 0.1)); // inv_std
  }
  return { shapes, data };
}

export function arraysToNpz(
  m: ModelArrays,
  options: { deflate?: boolean; npy?: (k: number) => NpyOptions } = {},
): Uint8Array {
  const entries: Record<string, Uint8Array> = {};
  m.data.forEach((d, k) => {
    entries[`arr_${k}`] = npy(must(m.shapes[k], 'm.shapes[k]'), d, options.npy?.(k) ?? {});
  });
  return npz(entries, options);
}

export const tmpDir = (prefix = 'bnn-test-'): string => mkdtempSync(path.join(os.tmpdir(), prefix));
export const removeDir = (dir: string): void => rmSync(dir, { recursive: true, force: true });

export const PARAMS_DIR = path.join(SHARED_DATA, 'bnn-pynq', 'params', 'mnist', 'lfcW1A1');
export const RECONSTRUCTED_NPZ = path.join(SHARED_DATA, 'npz', 'mnist-lfc-w1a1-reconstructed.npz');
export const FASHION_NPZ = path.join(SHARED_DATA, 'npz', 'fashion-mnist-lfc-w1a1.npz');
export const MNIST_IMAGES = path.join(SHARED_DATA, 'mnist', 't10k-images-idx3-ubyte.gz');
export const MNIST_LABELS = path.join(SHARED_DATA, 'mnist', 't10k-labels-idx1-ubyte.gz');
export const FASHION_DIR = '/usr/share/datasets/fashion-mnist';
export const FASHION_SAMPLE_DIR = path.join(SHARED_DATA, 'fashion-mnist-sample');

export function readFolder(dir: string): Map<string, Uint8Array> {
  return new Map(readdirSync(dir).map((n) => [n, new Uint8Array(readFileSync(path.join(dir, n)))]));
}
