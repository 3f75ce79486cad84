import { must } from '../defined';
import { hostInputByte } from './cifar';
import { highestSetBit, maxPositiveScore } from './decision';
import { LFC_INPUTS, PIXEL_THRESHOLD } from './lfc';
import type { OverlayParams } from './overlay-params';
import { type Arithmetic, arithmetic, type OverlayLayer, paddedFanIn, thresholdsPerNeuron } from './overlays';
import { popcount32 } from './simulate';
import {
  align,
  type BnnKernel,
  CHUNK_BYTES,
  chunksFor,
  instantiateBnnKernel,
  MAX_CHUNKS,
} from './wasm-kernel';

/**
 * Hardware-exact simulator of any overlay's batch path (docs/overlays.md §3): the host's input
 * rounding, each layer's accumulator (XNOR-popcount, signed sum, or the 8-bit first layer's integer dot
 * product), the strict `threshold < acc` activation, threshold-then-pool (OR for bits, max for ternary),
 * the 16-bit output scores and the overlay's decision rule.
 *
 * Values -1 / 0 / +1 travel as two bit planes, `nz` (value != 0) and `neg` (value == -1), 32 lanes per
 * word. The accumulators run in the WebAssembly kernels of kernels/bnn.wat (engine `wasm`, the default)
 * or in the same loops in plain JavaScript (engine `js`, the reference the tests compare against), on the
 * same memory layout: binary × binary is `MW - 2·popcount(w_neg ^ a_neg)`; anything ternary, with
 * nz = w_nz & a_nz, `2·popcount(nz & ~(w_neg ^ a_neg)) - popcount(nz)`; the 8-bit layer an int16 dot.
 */

export type SimulatorInput =
  /** idx images, 784 bytes each (LFC). */
  | { kind: 'mnist'; pixels: Uint8Array }
  /** CIFAR-10 records' pixels, 3,072 bytes each, planar R, G, B (CNV). */
  | { kind: 'cifar'; pixels: Uint8Array };

export interface Planes {
  nz: Uint32Array;
  neg: Uint32Array;
}

// Reads of the kernels' memory below are must(view[i], 'the kernel memory'): out of range traps in
// WebAssembly, and throws here; the read stays at each call site, which keeps each site's fast path.

/** LFC input planes over `cols` columns: pixel >= 128 is +1; every other column, the pads included, is -1. */
export function mnistPlanes(pixels: Uint8Array, image: number, cols: number): Planes {
  const words = Math.ceil(cols / 32);
  const x: Planes = { nz: new Uint32Array(words), neg: new Uint32Array(words) };
  writeMnistPlanes(pixels, image, cols, x.nz, 0, x.neg, 0);
  return x;
}

function writeMnistPlanes(
  pixels: Uint8Array,
  image: number,
  cols: number,
  nz: Uint32Array,
  nzAt: number,
  neg: Uint32Array,
  negAt: number,
): void {
  // Local copies: an imported binding read in this per-pixel loop costs a module getter call under tsx and jest.
  const inputs = LFC_INPUTS;
  const threshold = PIXEL_THRESHOLD;
  const base = image * inputs;
  for (let w = 0; w < cols >>> 5; w++) {
    let bits = 0;
    for (let j = 0; j < 32; j++) {
      const c = w * 32 + j;
      if (c < inputs && must(pixels[base + c], 'the pixels') >= threshold) bits |= 1 << j;
    }
    nz[nzAt + w] = 0xffffffff;
    neg[negAt + w] = ~bits >>> 0;
  }
}

/** CNV input: the host's signed bytes (hostInputByte) of image `image`, pixel-major (R, G, B per pixel). */
export function cifarHostBytes(planar: Uint8Array, image: number, dim: number, C: number): Int32Array {
  const hwc = new Int32Array(dim * dim * C);
  const base = image * dim * dim * C;
  for (let c = 0; c < C; c++)
    for (let i = 0; i < dim * dim; i++)
      hwc[i * C + c] = hostInputByte(must(planar[base + c * dim * dim + i], 'the planar pixels'));
  return hwc;
}

/**
 * The accumulator loops over one memory (byte addresses), in WebAssembly or in plain JavaScript: the kernel's own
 * signatures (BnnKernel), with the memory as words.
 */
type Kernels = Pick<
  BnnKernel,
  'mismatchCount' | 'im2col3x3' | 'mismatchCount4' | 'planesDot4' | 'planesDot' | 'dotI16' | 'threshold'
> & { u32: Uint32Array };

function wasmKernels(bytes: number): Kernels {
  const k = instantiateBnnKernel(bytes);
  return {
    u32: new Uint32Array(k.memory.buffer),
    mismatchCount: k.mismatchCount,
    im2col3x3: k.im2col3x3,
    mismatchCount4: k.mismatchCount4,
    planesDot4: k.planesDot4,
    planesDot: k.planesDot,
    dotI16: k.dotI16,
    threshold: k.threshold,
  };
}

function jsKernels(bytes: number): Kernels {
  const buffer = new ArrayBuffer(align(bytes));
  const u32 = new Uint32Array(buffer);
  const i32 = new Int32Array(buffer);
  const i16 = new Int16Array(buffer);
  const js: Kernels = {
    u32,
    mismatchCount(w, x, out, neurons, chunks) {
      const words = chunks * 4;
      for (let n = 0; n < neurons; n++) {
        let m = 0;
        for (let j = 0; j < words; j++)
          m += popcount32(
            (must(u32[w / 4 + n * words + j], 'the kernel memory') ^
              must(u32[x / 4 + j], 'the kernel memory')) >>>
              0,
          );
        i32[out / 4 + n] = m;
      }
    },
    planesDot(wnz, wneg, xnz, xneg, out, neurons, chunks) {
      const words = chunks * 4;
      for (let n = 0; n < neurons; n++) {
        let agree = 0;
        let count = 0;
        for (let j = 0; j < words; j++) {
          const nz =
            must(u32[wnz / 4 + n * words + j], 'the kernel memory') &
            must(u32[xnz / 4 + j], 'the kernel memory');
          count += popcount32(nz >>> 0);
          agree += popcount32(
            (nz &
              ~(
                must(u32[wneg / 4 + n * words + j], 'the kernel memory') ^
                must(u32[xneg / 4 + j], 'the kernel memory')
              )) >>>
              0,
          );
        }
        i32[out / 4 + n] = 2 * agree - count;
      }
    },
    dotI16(w, x, out, neurons, chunks) {
      const lanes = chunks * 8;
      for (let n = 0; n < neurons; n++) {
        let s = 0;
        for (let j = 0; j < lanes; j++)
          s +=
            must(i16[w / 2 + n * lanes + j], 'the kernel memory') * must(i16[x / 2 + j], 'the kernel memory');
        i32[out / 4 + n] = s;
      }
    },
    threshold(acc, thr, nthr, rows, mul, add, outNz, outNeg) {
      for (let g = 0; g < Math.ceil(rows / 32); g++) {
        let nz = 0;
        let neg = 0;
        for (let j = 0; j < 32 && g * 32 + j < rows; j++) {
          const n = g * 32 + j;
          const a = mul * must(i32[acc / 4 + n], 'the kernel memory') + add;
          const t = thr / 4 + n * nthr;
          const v =
            nthr === 1
              ? must(i32[t], 'the kernel memory') < a
                ? 1
                : -1
              : -1 +
                (must(i32[t], 'the kernel memory') < a ? 1 : 0) +
                (must(i32[t + 1], 'the kernel memory') < a ? 1 : 0);
          if (v !== 0) nz |= 1 << j;
          if (v < 0) neg |= 1 << j;
        }
        u32[outNz / 4 + g] = nz >>> 0;
        u32[outNeg / 4 + g] = neg >>> 0;
      }
    },
    im2col3x3(inNz, inNeg, inDim, block, y, x, colNz, colNeg) {
      const cw = block / 4;
      for (let ky = 0; ky < 3; ky++)
        for (let kx = 0; kx < 3; kx++) {
          const src = ((y + ky) * inDim + x + kx) * cw;
          const dst = (ky * 3 + kx) * cw;
          u32.copyWithin(colNz / 4 + dst, inNz / 4 + src, inNz / 4 + src + cw);
          u32.copyWithin(colNeg / 4 + dst, inNeg / 4 + src, inNeg / 4 + src + cw);
        }
    },
    mismatchCount4(w, x, out, neurons, chunks, step, ostep) {
      for (let q = 0; q < 4; q++) js.mismatchCount(w, x + q * step, out + q * ostep, neurons, chunks);
    },
    planesDot4(wnz, wneg, xnz, xneg, out, neurons, chunks, step, ostep) {
      for (let q = 0; q < 4; q++)
        js.planesDot(wnz, wneg, xnz + q * step, xneg + q * step, out + q * ostep, neurons, chunks);
    },
  };
  return js;
}

/** One layer placed in kernel memory. All addresses are byte offsets. */
interface Placed {
  layer: OverlayLayer;
  arith: Arithmetic;
  /** Padded fan-in MW (the hardware's width). */
  cols: number;
  chunks: number;
  /** Rows computed: every neuron; the output layer only its used lanes. */
  rows: number;
  nthr: number;
  /** Binary weights and binary input: the mismatch-count kernel. */
  binary: boolean;
  /** Weights: nz and neg planes (or the int16 rows for the 8-bit layer at `wnz`). */
  wnz: number;
  wneg: number;
  /** The thresholds in kernel memory (i32, 1 or 2 per neuron). */
  thr: number;
  /** Output: 32-bit words per pixel, and its planes (before pooling; conv: od² pixels). */
  outWords: number;
  outNz: number;
  outNeg: number;
  /** Pooled output planes (layers followed by a max-pool). */
  poolNz: number;
  poolNeg: number;
  /** Output dimension before pooling (conv), 1 for dense. */
  od: number;
  /** The accumulator in the layer's units is mul·kernel + add (popcount(xnor) = MW - mismatches, ...). */
  mul: number;
  add: number;
}

export interface OverlaySimulator {
  readonly classes: number;
  /**
   * Runs images `first .. first+count-1`: writes each image's class (the overlay's batch rule) into
   * `out[i]` and, if given, its `classes` output lanes (LFC: bits 0/1; CNV: 16-bit scores) into
   * `lanes[i * classes ..]`.
   */
  run(input: SimulatorInput, first: number, count: number, out: Uint8Array, lanes?: Int32Array): void;
  /** Every layer's output values (-1 / 0 / +1; the last layer's lanes) for one image, after pooling. */
  layerValues(input: SimulatorInput, image: number): Int32Array[];
}

export function createOverlaySimulator(
  params: OverlayParams,
  options: { engine?: 'wasm' | 'js' } = {},
): OverlaySimulator {
  const { overlay } = params;
  const classes = params.classes.length;
  const decide = overlay.decision === 'highest-set-bit' ? highestSetBit : maxPositiveScore;

  // Layout: per layer its weight planes and output planes, then one column buffer pair and one
  // accumulator buffer shared by all layers.
  let offset = 0;
  const take = (bytes: number) => {
    const at = offset;
    offset = align(offset + bytes);
    return at;
  };
  const specs = overlay.layers.map((layer, l) => {
    const cols = paddedFanIn(overlay, l);
    const fixed = layer.inputBits === 8;
    const chunks = fixed ? Math.ceil((cols * 16) / 128) : chunksFor(cols);
    if (chunks > MAX_CHUNKS)
      throw new RangeError(`layer ${l}: ${cols} columns exceed the kernels' ${MAX_CHUNKS} chunks`);
    const rows = layer.neurons === 'classes' ? classes : layer.neurons;
    const od = layer.conv ? layer.conv.inDim - layer.conv.kernel + 1 : 1;
    const outWords = Math.ceil(rows / 32);
    const pixels = od * od;
    const pooled = layer.conv?.pool ? (od >> 1) * (od >> 1) : 0;
    const wnz = take(rows * chunks * CHUNK_BYTES);
    const wneg = fixed ? 0 : take(rows * chunks * CHUNK_BYTES);
    // Outputs: whole chunks per dense output (the next layer reads them as its input directly).
    const outBytes = layer.conv ? pixels * outWords * 4 : chunksFor(rows) * CHUNK_BYTES;
    const outNz = take(outBytes);
    const outNeg = take(outBytes);
    const poolNz = pooled ? take(pooled * outWords * 4) : 0;
    const poolNeg = pooled ? take(pooled * outWords * 4) : 0;
    const thr = take(rows * thresholdsPerNeuron(layer) * 4);
    return {
      layer,
      arith: arithmetic(layer),
      cols,
      chunks,
      rows,
      nthr: thresholdsPerNeuron(layer),
      binary:
        layer.weightBits === 1 && (l === 0 ? layer.inputBits === 1 : overlay.layers[l - 1]?.outputBits === 1),
      wnz,
      wneg,
      thr,
      outWords,
      outNz,
      outNeg,
      poolNz,
      poolNeg,
      od,
      ...(() => {
        const binary =
          layer.weightBits === 1 &&
          (l === 0 ? layer.inputBits === 1 : overlay.layers[l - 1]?.outputBits === 1);
        if (!binary) return { mul: 1, add: 0 };
        return arithmetic(layer) === 'popcount' ? { mul: -1, add: cols } : { mul: -2, add: cols };
      })(),
    } satisfies Placed;
  });
  const maxChunks = Math.max(...specs.map((s) => s.chunks));
  const maxRows = Math.max(...specs.map((s) => s.rows));
  // Four column slots and four accumulator slots: conv layers run 4 output pixels per pass over the weights.
  const COL_STEP = maxChunks * CHUNK_BYTES;
  const ACC_STEP = align(maxRows * 4);
  const colNz = take(4 * COL_STEP);
  const colNeg = take(4 * COL_STEP);
  const acc = take(4 * ACC_STEP);
  const k = options.engine === 'js' ? jsKernels(offset) : wasmKernels(offset);
  const { u32 } = k;
  const i32 = new Int32Array(u32.buffer);
  const i16 = new Int16Array(u32.buffer);

  // Weights into memory: planes (bit c of row n), or int16 for the 8-bit layer; thresholds as i32.
  specs.forEach((s, l) => {
    const { weights: w, thresholds } = must(params.layers[l], 'the param layers');
    i32.set(thresholds.subarray(0, s.rows * s.nthr), s.thr / 4);
    const words = s.chunks * 4;
    for (let n = 0; n < s.rows; n++)
      for (let c = 0; c < s.cols; c++) {
        const v = must(w[n * s.cols + c], 'the weights');
        if (s.layer.inputBits === 8) {
          i16[s.wnz / 2 + n * s.chunks * 8 + c] = v;
          continue;
        }
        const word = n * words + (c >>> 5);
        const bit = 1 << (c & 31);
        if (v !== 0) u32[s.wnz / 4 + word] = (must(u32[s.wnz / 4 + word], 'the kernel memory') | bit) >>> 0;
        if (v < 0) u32[s.wneg / 4 + word] = (must(u32[s.wneg / 4 + word], 'the kernel memory') | bit) >>> 0;
      }
  });

  /**
   * One output pixel (or the dense layer): accumulates `s.rows` neurons against the input planes at
   * (xnz, xneg) and thresholds them into the output planes at word `at`. The accumulator is brought to
   * the layer's units on the way: popcount(xnor) = MW - mismatches, signed sum = MW - 2·mismatches.
   */
  function neurons(s: Placed, xnz: number, xneg: number, at: number): void {
    if (s.binary) k.mismatchCount(s.wneg, xneg, acc, s.rows, s.chunks);
    else k.planesDot(s.wnz, s.wneg, xnz, xneg, acc, s.rows, s.chunks);
    if (s.nthr === 0) {
      for (let n = 0; n < classes; n++)
        i32[acc / 4 + n] = s.mul * must(i32[acc / 4 + n], 'the kernel memory') + s.add;
      return;
    }
    k.threshold(acc, s.thr, s.nthr, s.rows, s.mul, s.add, s.outNz + 4 * at, s.outNeg + 4 * at);
  }

  /** `neurons` for 4 output pixels whose columns are in the 4 column slots; `at(q)` is pixel q's output word. */
  function neurons4(s: Placed, at: (q: number) => number): void {
    if (s.binary) k.mismatchCount4(s.wneg, colNeg, acc, s.rows, s.chunks, COL_STEP, ACC_STEP);
    else k.planesDot4(s.wnz, s.wneg, colNz, colNeg, acc, s.rows, s.chunks, COL_STEP, ACC_STEP);
    for (let q = 0; q < 4; q++)
      k.threshold(
        acc + q * ACC_STEP,
        s.thr,
        s.nthr,
        s.rows,
        s.mul,
        s.add,
        s.outNz + 4 * at(q),
        s.outNeg + 4 * at(q),
      );
  }

  /** 2x2 stride-2 max-pool on planes (binary: OR; ternary: max with -1 < 0 < +1). */
  function pool(s: Placed): void {
    const od = s.od;
    const pd = od >> 1;
    const cw = s.outWords;
    for (let y = 0; y < pd; y++)
      for (let x = 0; x < pd; x++)
        for (let w = 0; w < cw; w++) {
          let anyPos = 0;
          let allNeg = 0xffffffff;
          for (let q = 0; q < 4; q++) {
            const at = ((2 * y + (q >> 1)) * od + 2 * x + (q & 1)) * cw + w;
            const nz = must(u32[s.outNz / 4 + at], 'the kernel memory');
            const neg = must(u32[s.outNeg / 4 + at], 'the kernel memory');
            anyPos |= nz & ~neg;
            allNeg &= neg;
          }
          const at = (y * pd + x) * cw + w;
          u32[s.poolNz / 4 + at] = (anyPos | allNeg) >>> 0;
          u32[s.poolNeg / 4 + at] = allNeg >>> 0;
        }
  }

  const lanesOf = new Int32Array(classes);
  const col16 = new Int16Array(u32.buffer, colNz, maxChunks * 8);

  /** Runs one image through every layer; returns the output lanes. */
  function forward(input: SimulatorInput, image: number): Int32Array {
    // Where the current layer's input planes are (byte addresses) and their words per pixel.
    let inNz = colNz;
    let inNeg = colNeg;
    let inWords = 0;
    let inDim = 1;
    let start = 0;
    if (input.kind === 'mnist') {
      const s0 = must(specs[0], 'the placed layers');
      writeMnistPlanes(input.pixels, image, s0.cols, u32, colNz / 4, u32, colNeg / 4);
    } else {
      const s = must(specs[0], 'the placed layers');
      const conv = must(s.layer.conv, "the first CNV layer's convolution");
      const dim = conv.inDim;
      const C = conv.inChannels;
      const hwc = cifarHostBytes(input.pixels, image, dim, C);
      col16.fill(0);
      for (let y = 0; y < s.od; y++)
        for (let x = 0; x < s.od; x++) {
          for (let ky = 0; ky < 3; ky++)
            for (let kx = 0; kx < 3; kx++) {
              const src = ((y + ky) * dim + x + kx) * C;
              for (let c = 0; c < C; c++) col16[(ky * 3 + kx) * C + c] = must(hwc[src + c], 'the host bytes');
            }
          k.dotI16(s.wnz, colNz, acc, s.rows, s.chunks);
          // Thresholds are in 1/256, the sum in 1/128: compare against 2·Σ w·b.
          const word = (y * s.od + x) * s.outWords;
          k.threshold(acc, s.thr, s.nthr, s.rows, 2, 0, s.outNz + 4 * word, s.outNeg + 4 * word);
        }
      inNz = s.outNz;
      inNeg = s.outNeg;
      inWords = s.outWords;
      inDim = s.od;
      start = 1;
      col16.fill(0);
    }
    for (let l = start; l < specs.length; l++) {
      const s = must(specs[l], 'the placed layers');
      const conv = s.layer.conv;
      if (!conv) {
        // Dense: the previous output (whole chunks, zero past its neurons) is the input as it is.
        neurons(s, inNz, inNeg, 0);
        if (s.nthr === 0) {
          for (let n = 0; n < classes; n++)
            lanesOf[n] = (must(i32[acc / 4 + n], 'the kernel memory') << 16) >> 16;
          return lanesOf;
        }
        if (l === specs.length - 1) {
          for (let n = 0; n < classes; n++)
            lanesOf[n] = (must(u32[s.outNeg / 4 + (n >>> 5)], 'the kernel memory') >>> (n & 31)) & 1 ? 0 : 1;
          return lanesOf;
        }
        inNz = s.outNz;
        inNeg = s.outNeg;
      } else {
        const cw = inWords;
        const pixels = s.od * s.od;
        // im2col: pixel p's 3x3 window blocks, in (ky, kx, c) order, into column slot q.
        const gather = (p: number, q: number) => {
          const y = Math.floor(p / s.od);
          k.im2col3x3(
            inNz,
            inNeg,
            inDim,
            cw * 4,
            y,
            p - y * s.od,
            colNz + q * COL_STEP,
            colNeg + q * COL_STEP,
          );
        };
        let p = 0;
        for (; p + 4 <= pixels; p += 4) {
          for (let q = 0; q < 4; q++) gather(p + q, q);
          const base = p;
          neurons4(s, (q) => (base + q) * s.outWords);
        }
        for (; p < pixels; p++) {
          gather(p, 0);
          neurons(s, colNz, colNeg, p * s.outWords);
        }
        if (conv.pool) {
          pool(s);
          inNz = s.poolNz;
          inNeg = s.poolNeg;
          inDim = s.od >> 1;
        } else {
          inNz = s.outNz;
          inNeg = s.outNeg;
          inDim = s.od;
        }
        inWords = s.outWords;
        // The column buffer of the next layer must be zero past its real width.
        u32.fill(0, colNz / 4, (colNz + 4 * COL_STEP) / 4);
        u32.fill(0, colNeg / 4, (colNeg + 4 * COL_STEP) / 4);
      }
    }
    return lanesOf;
  }

  /** The planes at (nz, neg) over `words` words as values. */
  const valuesAt = (nz: number, neg: number, words: number): Int32Array => {
    const v = new Int32Array(words * 32);
    for (let i = 0; i < words * 32; i++) {
      const z = (must(u32[nz / 4 + (i >>> 5)], 'the kernel memory') >>> (i & 31)) & 1;
      const m = (must(u32[neg / 4 + (i >>> 5)], 'the kernel memory') >>> (i & 31)) & 1;
      v[i] = z ? (m ? -1 : 1) : 0;
    }
    return v;
  };

  return {
    classes,
    run(input, first, count, out, lanes) {
      for (let i = 0; i < count; i++) {
        const v = forward(input, first + i);
        out[i] = decide(v, classes);
        lanes?.set(v, i * classes);
      }
    },
    layerValues(input, image) {
      const last = forward(input, image).slice();
      const values = specs.slice(0, -1).map((s) => {
        const pixels = s.layer.conv ? (s.layer.conv.pool ? (s.od >> 1) ** 2 : s.od ** 2) : 1;
        return s.layer.conv?.pool
          ? valuesAt(s.poolNz, s.poolNeg, pixels * s.outWords)
          : valuesAt(s.outNz, s.outNeg, pixels * s.outWords);
      });
      values.push(last);
      return values;
    },
  };
}
