import { InputFormatError } from '../errors';
import { highestSetBitOfWords } from './decision';
import type { IdxImages } from './idx';
import { LFC_INPUTS, PIXEL_THRESHOLD } from './lfc';
import type { LfcParams } from './types';
import { ACT_STRIDE, CHUNK_BYTES, chunksFor, instantiateBnnKernel, quadWordOffset } from './wasm-kernel';

/**
 * Hardware-exact simulator of the lfcW1A1 overlay's batch path (docs/overlays.md §3, §4):
 * input bit = pixel >= 128 (pad bits 0); per layer acc = popcount(xnor(w, x)) over the padded width,
 * output bit = acc > T (T signed 16-bit); predicted class = highest set bit of the first C outputs, 0 if none.
 *
 * Speed: everything is bit-packed into 32-bit words. Since acc = MW - popcount(w ^ x), the test
 * acc > T becomes popcount(w ^ x) < MW - T, so the inner loop is xor + popcount + add, and all
 * buffers are allocated once per run, none per image.
 */

/** Population count of a 32-bit word (SWAR). */
export function popcount32(v: number): number {
  v -= (v >>> 1) & 0x55555555;
  v = (v & 0x33333333) + ((v >>> 2) & 0x33333333);
  return (((v + (v >>> 4)) & 0x0f0f0f0f) * 0x01010101) >>> 24;
}

export interface PreparedLayer {
  words: number;
  neurons: number;
  bits: Uint32Array;
  /** MW - T per neuron: the neuron fires when popcount(w ^ x) < limit. */
  limit: Int32Array;
}

export interface Simulator {
  readonly classes: number;
  readonly layers: PreparedLayer[];
  /**
   * Runs images `first .. first+count-1`. Writes the board-rule class of image i into `classes[i]` and,
   * if given, its 64 output bits (masked to the classes) into `bits[2i]` (outputs 0..31) and `bits[2i+1]`.
   */
  run(pixels: Uint8Array, first: number, count: number, classes: Uint8Array, bits?: Uint32Array): void;
  /** The packed input of layer `layer` (0 = binarized pixels) for one image; a fresh copy. */
  layerInput(pixels: Uint8Array, image: number, layer: number): Uint32Array;
}

export function prepareLayers(params: LfcParams): PreparedLayer[] {
  return params.layers.map((l) => {
    const limit = new Int32Array(l.mh);
    for (let n = 0; n < l.mh; n++) limit[n] = l.mw - (l.thresholds[n] as number);
    return { words: l.mw / 32, neurons: l.mh, bits: l.bits, limit };
  });
}

/**
 * Binarizes 4 pixels at once: pixel >= 128 exactly when its top bit is set, so from a little-endian
 * 32-bit word of 4 pixels, (v >>> 7) & 0x01010101 leaves each flag at bit 8k, and one multiply by
 * 0x01020408 gathers the four flags, in pixel order, into bits 24..27 (no carries reach them).
 */
export function binarizeImageWords(words: Uint32Array, image: number, x: Uint32Array): void {
  const base = image * (LFC_INPUTS / 4);
  let j = 0;
  for (let w = 0; w < LFC_INPUTS / 4; w += 8, j++) {
    let out = 0;
    const end = Math.min(8, LFC_INPUTS / 4 - w);
    for (let q = 0; q < end; q++)
      out |= (Math.imul(((words[base + w + q] as number) >>> 7) & 0x01010101, 0x01020408) >>> 24) << (4 * q);
    x[j] = out;
  }
  for (; j < x.length; j++) x[j] = 0;
}

const wordViews = new WeakMap<Uint8Array, Uint32Array>();
/** The pixels as little-endian 32-bit words (a view when aligned, else one copy, cached). */
export function pixelWords(pixels: Uint8Array): Uint32Array {
  let v = wordViews.get(pixels);
  if (!v) {
    const n = pixels.length >>> 2;
    v =
      pixels.byteOffset % 4 === 0
        ? new Uint32Array(pixels.buffer, pixels.byteOffset, n)
        : new Uint32Array(pixels.slice(0, n * 4).buffer);
    wordViews.set(pixels, v);
  }
  return v;
}

/** Packs image `image` into `x` (pixel >= 128 -> 1); the words past pixel 784 stay 0. */
export function binarizeImage(pixels: Uint8Array, image: number, x: Uint32Array): void {
  x.fill(0);
  const base = image * LFC_INPUTS;
  for (let i = 0; i < LFC_INPUTS; i++)
    if ((pixels[base + i] as number) >= PIXEL_THRESHOLD)
      x[i >>> 5] = (x[i >>> 5] as number) | (1 << (i & 31));
}

/** One layer: out bit n = popcount(w_n ^ x) < limit_n. `out` must hold neurons/32 words (rounded up). */
export function runLayer(layer: PreparedLayer, x: Uint32Array, out: Uint32Array): void {
  const { words, neurons, bits, limit } = layer;
  out.fill(0);
  for (let n = 0, row = 0; n < neurons; n++, row += words) {
    let pc = 0;
    for (let w = 0; w < words; w++) {
      let v = ((bits[row + w] as number) ^ (x[w] as number)) | 0;
      v -= (v >>> 1) & 0x55555555;
      v = (v & 0x33333333) + ((v >>> 2) & 0x33333333);
      pc += (((v + (v >>> 4)) & 0x0f0f0f0f) * 0x01010101) >>> 24;
    }
    if (pc < (limit[n] as number)) out[n >>> 5] = (out[n >>> 5] as number) | (1 << (n & 31));
  }
}

/** The board's LFC batch rule (decision.ts) on a 64-bit output held as two words. */
export const boardClass = highestSetBitOfWords;

/**
 * The simulator. `engine: 'wasm'` (default) runs the layers in the WebAssembly kernel (native 64-bit
 * popcount); `'js'` runs the same loop in plain JavaScript (the reference the tests compare against).
 */
export function createSimulator(params: LfcParams, options: { engine?: 'wasm' | 'js' } = {}): Simulator {
  const layers = prepareLayers(params);
  const classes = params.classes.length;
  const maskLo = classes >= 32 ? 0xffffffff : (1 << classes) - 1;
  const maskHi = classes <= 32 ? 0 : classes >= 64 ? 0xffffffff : (1 << (classes - 32)) - 1;
  const engine = options.engine === 'js' ? jsEngine(layers) : wasmEngine(layers);
  return {
    classes,
    layers,
    run(pixels, first, count, out, bits) {
      for (let i = 0; i < count; i++) {
        const y = engine.forward(pixels, first + i, layers.length);
        const lo = ((y[0] as number) & maskLo) >>> 0;
        const hi = ((y[1] as number) & maskHi) >>> 0;
        out[i] = boardClass(lo, hi, classes);
        if (bits) {
          bits[2 * i] = lo;
          bits[2 * i + 1] = hi;
        }
      }
    },
    layerInput(pixels, image, layer) {
      return engine.forward(pixels, image, layer).slice();
    },
  };
}

interface Engine {
  /** Runs image `image` through layers 0..upTo-1; returns its output words (a view the next call overwrites). */
  forward(pixels: Uint8Array, image: number, upTo: number): Uint32Array;
}

function jsEngine(layers: PreparedLayer[]): Engine {
  const buffers = layers.map((l) => new Uint32Array(Math.max(2, Math.ceil(l.neurons / 32))));
  const x0: Uint32Array = new Uint32Array((layers[0] as PreparedLayer).words);
  return {
    forward(pixels, image, upTo) {
      binarizeImage(pixels, image, x0);
      let x: Uint32Array = x0;
      for (let l = 0; l < upTo; l++) {
        runLayer(layers[l] as PreparedLayer, x, buffers[l] as Uint32Array);
        x = buffers[l] as Uint32Array;
      }
      return x;
    },
  };
}

function wasmEngine(layers: PreparedLayer[]): Engine {
  // Memory: activation levels 0..L (level l = input of layer l), ACT_STRIDE bytes each; then per layer
  // its weight rows in quad layout (xnor_threshold) and its limits, 16-byte aligned. Rows are padded to
  // whole 128-bit chunks (layer 0: 832 -> 896 bits) with 0 bits in weights and input alike, so the
  // padding adds no mismatches.
  const chunks = layers.map((l) => chunksFor(l.words * 32));
  let offset = ACT_STRIDE * (layers.length + 1);
  const placed = layers.map((l, i) => {
    if (l.neurons % 32 !== 0) throw new RangeError(`layer ${i}: ${l.neurons} neurons, not a multiple of 32`);
    const w = offset;
    offset += (l.neurons * (chunks[i] as number) * CHUNK_BYTES + 15) & ~15;
    const lim = offset;
    offset += (l.limit.byteLength + 15) & ~15;
    return { w, lim };
  });
  const kernel = instantiateBnnKernel(offset);
  const u32 = new Uint32Array(kernel.memory.buffer);
  const i32 = new Int32Array(kernel.memory.buffer);
  layers.forEach((l, i) => {
    const p = placed[i] as { w: number; lim: number };
    const c = chunks[i] as number;
    for (let n = 0; n < l.neurons; n++)
      for (let k = 0; k < l.words; k++)
        u32[p.w / 4 + quadWordOffset(n, k, c)] = l.bits[n * l.words + k] as number;
    i32.set(l.limit, p.lim / 4);
  });
  // Level l > 0 holds the output of layer l - 1: neurons / 32 words (at least 2: the 64-bit output).
  const levels = Array.from({ length: layers.length + 1 }, (_, l) =>
    u32.subarray(
      (l * ACT_STRIDE) / 4,
      (l * ACT_STRIDE) / 4 +
        (l === 0
          ? (layers[0] as PreparedLayer).words
          : Math.max(2, (layers[l - 1] as PreparedLayer).neurons / 32)),
    ),
  );
  return {
    forward(pixels, image, upTo) {
      binarizeImageWords(pixelWords(pixels), image, levels[0] as Uint32Array);
      for (let l = 0; l < upTo; l++) {
        const p = placed[l] as { w: number; lim: number };
        const neurons = (layers[l] as PreparedLayer).neurons;
        kernel.xnorThreshold(p.w, l * ACT_STRIDE, (l + 1) * ACT_STRIDE, p.lim, neurons, chunks[l] as number);
      }
      return levels[upTo] as Uint32Array;
    },
  };
}

export function checkImageShape(images: IdxImages, where: string): void {
  if (images.rows * images.cols !== LFC_INPUTS)
    throw new InputFormatError(
      where,
      `images are ${images.rows} x ${images.cols}; lfcW1A1 takes 28 x 28 (784 pixels)`,
    );
}

/** Board-rule class of every image (hardware-exact). */
export function classify(params: LfcParams, images: IdxImages): Uint8Array {
  checkImageShape(images, 'images');
  const out = new Uint8Array(images.count);
  createSimulator(params).run(images.pixels, 0, images.count, out);
  return out;
}
