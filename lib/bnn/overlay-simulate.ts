import { hostInputByte } from './cifar';
import { highestSetBit, maxPositiveScore } from './decision';
import type { OverlayParams } from './overlay-params';
import { type Arithmetic, arithmetic, type OverlayLayer, paddedFanIn, thresholdsPerNeuron } from './overlays';

/**
 * Hardware-exact simulator of any overlay's batch path (docs/overlays.md §3): the host's input
 * rounding, each layer's accumulator (XNOR-popcount, signed sum, or the 8-bit first layer's integer dot
 * product), the strict `threshold < acc` activation, threshold-then-pool (OR for bits, max for ternary),
 * the 16-bit output scores and the overlay's decision rule.
 *
 * Values -1 / 0 / +1 travel as two bit planes, `nz` (value != 0) and `neg` (value == -1), 32 lanes per
 * word. For binary × binary the dot product is L - 2·popcount(w_neg ^ a_neg); otherwise, with
 * nz = w_nz & a_nz, it is 2·popcount(nz & ~(w_neg ^ a_neg)) - popcount(nz).
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

interface PreparedLayer {
  layer: OverlayLayer;
  arith: Arithmetic;
  /** Columns (padded fan-in) and words per row. */
  cols: number;
  words: number;
  /** Rows the simulator computes (all neurons; the output layer only its used lanes). */
  rows: number;
  nthr: number;
  binaryWeights: boolean;
  /** Binary input (the layer before outputs one threshold; LFC's pixels). */
  binaryInput: boolean;
  wnz: Uint32Array;
  wneg: Uint32Array;
  /** Layer 0 of CNV: weights as integers, rows x cols. */
  wint: Int32Array;
  thresholds: Int32Array;
}

export const pc = (v: number): number => {
  v -= (v >>> 1) & 0x55555555;
  v = (v & 0x33333333) + ((v >>> 2) & 0x33333333);
  return (((v + (v >>> 4)) & 0x0f0f0f0f) * 0x01010101) >>> 24;
};

function prepare(params: OverlayParams): PreparedLayer[] {
  const { overlay } = params;
  const classes = params.classes.length;
  return overlay.layers.map((layer, l) => {
    const cols = paddedFanIn(overlay, l);
    const words = Math.ceil(cols / 32);
    const lp = params.layers[l] as OverlayParams['layers'][number];
    const rows = layer.neurons === 'classes' ? classes : layer.neurons;
    const wnz = new Uint32Array(rows * words);
    const wneg = new Uint32Array(rows * words);
    const wint = new Int32Array(layer.inputBits === 8 ? rows * cols : 0);
    for (let n = 0; n < rows; n++)
      for (let c = 0; c < cols; c++) {
        const v = lp.weights[n * cols + c] as number;
        if (wint.length > 0) wint[n * cols + c] = v;
        const at = n * words + (c >>> 5);
        const bit = 1 << (c & 31);
        if (v !== 0) wnz[at] = ((wnz[at] as number) | bit) >>> 0;
        if (v < 0) wneg[at] = ((wneg[at] as number) | bit) >>> 0;
      }
    const prev = overlay.layers[l - 1];
    return {
      layer,
      arith: arithmetic(layer),
      cols,
      words,
      rows,
      nthr: thresholdsPerNeuron(layer),
      binaryWeights: layer.weightBits === 1,
      binaryInput: l === 0 ? layer.inputBits === 1 : prev?.outputBits === 1,
      wnz,
      wneg,
      wint,
      thresholds: lp.thresholds,
    };
  });
}

/**
 * Σ w·a of a row with planes (words from `row` in the weights, `off` in the input), any of -1 / 0 / +1:
 * with nz = w_nz & a_nz, 2·popcount(nz & ~(w_neg ^ a_neg)) - popcount(nz).
 */
export function planesDot(
  wnz: Uint32Array,
  wneg: Uint32Array,
  row: number,
  words: number,
  x: Planes,
  off: number,
): number {
  let agree = 0;
  let count = 0;
  for (let w = 0; w < words; w++) {
    const nz = (wnz[row + w] as number) & (x.nz[off + w] as number);
    count += pc(nz >>> 0);
    agree += pc((nz & ~((wneg[row + w] as number) ^ (x.neg[off + w] as number))) >>> 0);
  }
  return 2 * agree - count;
}

/** Σ w·a of row n with the input planes (words from `off` in both). */
function dot(p: PreparedLayer, n: number, x: Planes, off: number): number {
  const { words, wnz, wneg } = p;
  const row = n * words;
  if (p.binaryWeights && p.binaryInput) {
    let m = 0;
    for (let w = 0; w < words; w++) m += pc(((wneg[row + w] as number) ^ (x.neg[off + w] as number)) >>> 0);
    return p.cols - 2 * m;
  }
  return planesDot(wnz, wneg, row, words, x, off);
}

/** The activation -1 / 0 / +1 of one neuron, from its accumulator (strict `threshold < acc`). */
function activate(p: PreparedLayer, n: number, acc: number): number {
  const t = p.thresholds;
  if (p.nthr === 1) return (t[n] as number) < acc ? 1 : -1;
  return -1 + ((t[2 * n] as number) < acc ? 1 : 0) + ((t[2 * n + 1] as number) < acc ? 1 : 0);
}

const setValue = (out: Planes, at: number, bit: number, v: number) => {
  if (v !== 0) out.nz[at] = ((out.nz[at] as number) | bit) >>> 0;
  if (v < 0) out.neg[at] = ((out.neg[at] as number) | bit) >>> 0;
};

function accumulate(p: PreparedLayer, n: number, x: Planes, off: number): number {
  const d = dot(p, n, x, off);
  return p.arith === 'popcount' ? (p.cols + d) / 2 : d;
}

/** 2x2 stride-2 max-pool on planes (binary: OR; ternary: max with -1 < 0 < +1). */
function pool(x: Planes, dim: number, cw: number): Planes {
  const od = dim >> 1;
  const out: Planes = { nz: new Uint32Array(od * od * cw), neg: new Uint32Array(od * od * cw) };
  for (let y = 0; y < od; y++)
    for (let xx = 0; xx < od; xx++)
      for (let w = 0; w < cw; w++) {
        let anyPos = 0;
        let allNeg = 0xffffffff;
        for (const [dy, dx] of [
          [0, 0],
          [0, 1],
          [1, 0],
          [1, 1],
        ] as const) {
          const at = ((2 * y + dy) * dim + 2 * xx + dx) * cw + w;
          const nz = x.nz[at] as number;
          const neg = x.neg[at] as number;
          anyPos |= nz & ~neg;
          allNeg &= neg;
        }
        const at = (y * od + xx) * cw + w;
        out.nz[at] = (anyPos | allNeg) >>> 0;
        out.neg[at] = allNeg >>> 0;
      }
  return out;
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

export function createOverlaySimulator(params: OverlayParams): OverlaySimulator {
  const { overlay } = params;
  const classes = params.classes.length;
  const layers = prepare(params);
  const decide = overlay.decision === 'highest-set-bit' ? highestSetBit : maxPositiveScore;
  const lanesOf = new Int32Array(classes);

  /** Runs one image; returns the last layer's lanes, and every layer's planes if `trace`. */
  function forward(input: SimulatorInput, image: number, trace?: Planes[]): Int32Array {
    let x: Planes;
    let start = 0;
    if (input.kind === 'mnist') {
      const p0 = layers[0] as PreparedLayer;
      x = { nz: new Uint32Array(p0.words), neg: new Uint32Array(p0.words) };
      const base = image * 784;
      // Pixel >= 128 is +1; every other column, the 48 pads included, is a 0 bit = -1.
      for (let c = 0; c < p0.cols; c++) {
        const at = c >>> 5;
        const bit = 1 << (c & 31);
        x.nz[at] = ((x.nz[at] as number) | bit) >>> 0;
        if (c >= 784 || (input.pixels[base + c] as number) < 128)
          x.neg[at] = ((x.neg[at] as number) | bit) >>> 0;
      }
    } else {
      x = firstConv(layers[0] as PreparedLayer, input.pixels, image);
      trace?.push(x);
      start = 1;
    }
    for (let l = start; l < layers.length; l++) {
      const p = layers[l] as PreparedLayer;
      const conv = p.layer.conv;
      if (p.nthr === 0) {
        for (let n = 0; n < classes; n++) {
          const acc = accumulate(p, n, x, 0);
          lanesOf[n] = (acc << 16) >> 16; // the 16-bit lane, read as ap_int<16>
        }
        return lanesOf;
      }
      const outWords = Math.ceil(p.rows / 32);
      if (!conv) {
        const out: Planes = { nz: new Uint32Array(outWords), neg: new Uint32Array(outWords) };
        for (let n = 0; n < p.rows; n++)
          setValue(out, n >>> 5, 1 << (n & 31), activate(p, n, accumulate(p, n, x, 0)));
        x = out;
      } else {
        const inDim = conv.inDim;
        const od = inDim - conv.kernel + 1;
        const cw = conv.inChannels / 32;
        const col: Planes = { nz: new Uint32Array(p.words), neg: new Uint32Array(p.words) };
        const out: Planes = {
          nz: new Uint32Array(od * od * outWords),
          neg: new Uint32Array(od * od * outWords),
        };
        for (let y = 0; y < od; y++)
          for (let xx = 0; xx < od; xx++) {
            for (let ky = 0; ky < 3; ky++)
              for (let kx = 0; kx < 3; kx++) {
                const src = ((y + ky) * inDim + xx + kx) * cw;
                const dst = (ky * 3 + kx) * cw;
                col.nz.set(x.nz.subarray(src, src + cw), dst);
                col.neg.set(x.neg.subarray(src, src + cw), dst);
              }
            const base = (y * od + xx) * outWords;
            for (let n = 0; n < p.rows; n++)
              setValue(out, base + (n >>> 5), 1 << (n & 31), activate(p, n, accumulate(p, n, col, 0)));
          }
        x = conv.pool ? pool(out, od, outWords) : out;
      }
      if (l === layers.length - 1) {
        for (let n = 0; n < classes; n++)
          lanesOf[n] =
            ((x.nz[n >>> 5] as number) >>> (n & 31)) & 1 & ~((x.neg[n >>> 5] as number) >>> (n & 31));
        return lanesOf;
      }
      trace?.push(x);
    }
    return lanesOf;
  }

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
      const trace: Planes[] = [];
      const last = forward(input, image, trace).slice();
      const values = trace.map((t, l) => {
        const n = t.nz.length * 32;
        const v = new Int32Array(n);
        for (let i = 0; i < n; i++) {
          const nz = ((t.nz[i >>> 5] as number) >>> (i & 31)) & 1;
          const neg = ((t.neg[i >>> 5] as number) >>> (i & 31)) & 1;
          v[i] = nz ? (neg ? -1 : 1) : 0;
        }
        void l;
        return v;
      });
      values.push(last);
      return values;
    },
  };
}

/** LFC input planes over `cols` columns: pixel >= 128 is +1; every other column, the pads included, is -1. */
export function mnistPlanes(pixels: Uint8Array, image: number, cols: number): Planes {
  const words = Math.ceil(cols / 32);
  const x: Planes = { nz: new Uint32Array(words), neg: new Uint32Array(words) };
  const base = image * 784;
  for (let c = 0; c < cols; c++) {
    const at = c >>> 5;
    const bit = 1 << (c & 31);
    x.nz[at] = ((x.nz[at] as number) | bit) >>> 0;
    if (c >= 784 || (pixels[base + c] as number) < 128) x.neg[at] = ((x.neg[at] as number) | bit) >>> 0;
  }
  return x;
}

/** CNV input: the host's signed bytes (hostInputByte) of image `image`, pixel-major (R, G, B per pixel). */
export function cifarHostBytes(planar: Uint8Array, image: number, dim: number, C: number): Int32Array {
  const hwc = new Int32Array(dim * dim * C);
  const base = image * dim * dim * C;
  for (let c = 0; c < C; c++)
    for (let i = 0; i < dim * dim; i++)
      hwc[i * C + c] = hostInputByte(planar[base + c * dim * dim + i] as number);
  return hwc;
}

/**
 * CNV layer 0: the host's bytes b (ap_fixed<8,1>, value b/128) in pixel-major order (R, G, B per
 * pixel), Σ w·b per neuron over the 3x3x3 window, fires iff threshold (24-bit, 1/256 units) < 2·Σ w·b.
 */
function firstConv(p: PreparedLayer, planar: Uint8Array, image: number): Planes {
  const conv = p.layer.conv as NonNullable<OverlayLayer['conv']>;
  const dim = conv.inDim;
  const C = conv.inChannels;
  const od = dim - conv.kernel + 1;
  const hwc = new Int32Array(dim * dim * C);
  const base = image * dim * dim * C;
  for (let c = 0; c < C; c++)
    for (let i = 0; i < dim * dim; i++)
      hwc[i * C + c] = hostInputByte(planar[base + c * dim * dim + i] as number);
  const outWords = Math.ceil(p.rows / 32);
  const out: Planes = { nz: new Uint32Array(od * od * outWords), neg: new Uint32Array(od * od * outWords) };
  const col = new Int32Array(p.cols);
  for (let y = 0; y < od; y++)
    for (let x = 0; x < od; x++) {
      for (let ky = 0; ky < 3; ky++)
        for (let kx = 0; kx < 3; kx++)
          for (let c = 0; c < C; c++)
            col[(ky * 3 + kx) * C + c] = hwc[((y + ky) * dim + x + kx) * C + c] as number;
      const at = (y * od + x) * outWords;
      for (let n = 0; n < p.rows; n++) {
        let s = 0;
        const row = n * p.cols;
        for (let c = 0; c < p.cols; c++) s += (p.wint[row + c] as number) * (col[c] as number);
        setValue(out, at + (n >>> 5), 1 << (n & 31), activate(p, n, 2 * s));
      }
    }
  return out;
}
