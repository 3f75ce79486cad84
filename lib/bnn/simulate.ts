import { must } from '../defined';
import { InputFormatError } from '../errors';
import { highestSetBitOfWords } from './decision';
import type { IdxImages } from './idx';
import { LFC_INPUTS, PIXEL_THRESHOLD } from './lfc';
import type { LfcParams } from './types';
import { ACT_STRIDE, align, instantiateBnnKernel, quadWordOffset } from './wasm-kernel';

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
    const limit = Int32Array.from(l.thresholds, (t) => l.mw - t);
    return { words: l.mw / 32, neurons: l.mh, bits: l.bits, limit };
  });
}

/** Packs image `image` into `x` (pixel >= 128 -> 1); the words past pixel 784 stay 0. */
export function binarizeImage(pixels: Uint8Array, image: number, x: Uint32Array): void {
  x.fill(0);
  const base = image * LFC_INPUTS;
  for (let i = 0; i < LFC_INPUTS; i++)
    if (must(pixels[base + i], 'pixel') >= PIXEL_THRESHOLD)
      x[i >>> 5] = must(x[i >>> 5], 'x') | (1 << (i & 31));
}

/** One layer: out bit n = popcount(w_n ^ x) < limit_n. `out` must hold neurons/32 words (rounded up). */
export function runLayer(layer: PreparedLayer, x: Uint32Array, out: Uint32Array): void {
  const { words, neurons, bits, limit } = layer;
  out.fill(0);
  for (let n = 0, row = 0; n < neurons; n++, row += words) {
    let pc = 0;
    for (let w = 0; w < words; w++) {
      let v = (must(bits[row + w], 'weight word') ^ must(x[w], 'input word')) | 0;
      v -= (v >>> 1) & 0x55555555;
      v = (v & 0x33333333) + ((v >>> 2) & 0x33333333);
      pc += (((v + (v >>> 4)) & 0x0f0f0f0f) * 0x01010101) >>> 24;
    }
    if (pc < must(limit[n], 'limit')) out[n >>> 5] = must(out[n >>> 5], 'output word') | (1 << (n & 31));
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
        const lo = (must(y[0], 'output word 0') & maskLo) >>> 0;
        const hi = (must(y[1], 'output word 1') & maskHi) >>> 0;
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
  const stages = layers.map((layer) => ({
    layer,
    out: new Uint32Array(Math.max(2, Math.ceil(layer.neurons / 32))),
  }));
  const x0 = new Uint32Array(must(layers[0], 'layer 0').words);
  return {
    forward(pixels, image, upTo) {
      binarizeImage(pixels, image, x0);
      let x = x0;
      for (const { layer, out } of stages.slice(0, upTo)) {
        runLayer(layer, x, out);
        x = out;
      }
      return x;
    },
  };
}

function wasmEngine(layers: PreparedLayer[]): Engine {
  // Memory: activation levels 0..L (level l = input of layer l), ACT_STRIDE bytes each; then per layer
  // its weight rows in quad layout (xnor_threshold: rows of exactly MW / 64 words, MW being a multiple of
  // 64, so nothing pads a row; the padded columns, 784..831 of layer 0, are weight 1 against input 0:
  // mismatches, i.e. xnor 0, neutral in acc = MW - popcount(w ^ x)) and its limits, 16-byte aligned. The
  // image's pixels go after the activation levels: they are copied in and top_bits writes level 0
  // (pixel >= PIXEL_THRESHOLD = 128 is the byte's top bit).
  if (PIXEL_THRESHOLD !== 128) throw new RangeError('top_bits binarizes at 128');
  const pixelsAt = ACT_STRIDE * (layers.length + 1);
  let offset = align(pixelsAt + LFC_INPUTS);
  const stages = layers.map((layer, i) => {
    if (layer.neurons % 32 !== 0)
      throw new RangeError(`layer ${i}: ${layer.neurons} neurons, not a multiple of 32`);
    if (layer.words % 2 !== 0)
      throw new RangeError(`layer ${i}: rows of ${layer.words * 32} bits, not whole 64-bit words`);
    const words64 = layer.words / 2;
    const w = offset;
    offset += (layer.neurons * words64 * 8 + 15) & ~15;
    const lim = offset;
    offset += (layer.limit.byteLength + 15) & ~15;
    // Its input is level i, its output level i + 1.
    return { layer, words64, w, lim, x: i * ACT_STRIDE, out: (i + 1) * ACT_STRIDE };
  });
  const kernel = instantiateBnnKernel(offset);
  const u8 = new Uint8Array(kernel.memory.buffer);
  const u32 = new Uint32Array(kernel.memory.buffer);
  const i32 = new Int32Array(kernel.memory.buffer);
  for (const { layer, words64, w, lim } of stages) {
    layer.bits.forEach((word, i) => {
      u32[w / 4 + quadWordOffset(Math.floor(i / layer.words), i % layer.words, words64)] = word;
    });
    i32.set(layer.limit, lim / 4);
  }
  // Level 0 holds the binarized pixels; level l > 0 the output of layer l - 1: neurons / 32 words (at
  // least 2: the 64-bit output).
  const levels = [
    u32.subarray(0, must(layers[0], 'layer 0').words),
    ...stages.map((s) => u32.subarray(s.out / 4, s.out / 4 + Math.max(2, s.layer.neurons / 32))),
  ];
  return {
    forward(pixels, image, upTo) {
      u8.set(pixels.subarray(image * LFC_INPUTS, (image + 1) * LFC_INPUTS), pixelsAt);
      kernel.topBits(pixelsAt, 0, LFC_INPUTS);
      for (let l = 0; l < upTo; l++) {
        const s = must(stages[l], 'layer');
        kernel.xnorThreshold(s.w, s.x, s.out, s.lim, s.layer.neurons, s.words64);
      }
      return must(levels[upTo], 'level');
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
