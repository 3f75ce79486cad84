import { must } from '../defined';
/**
 * The table of BNN-PYNQ overlays (docs/overlays.md §1): each overlay's layers, folding (SIMD, PE),
 * weight / input / activation bits, input format and decision rule. Everything else (padded sizes,
 * file sizes, the threshold rule the converter applies, the arithmetic the simulator runs) is derived
 * from these entries by the functions below, so adding an overlay is one entry here.
 */

export const OVERLAY_NAMES = ['lfcW1A1', 'lfcW1A2', 'cnvW1A1', 'cnvW1A2', 'cnvW2A2'] as const;
export type OverlayName = (typeof OVERLAY_NAMES)[number];

/** Every overlay's last layer has 64 output lanes; classes.txt chooses how many are used. */
export const MAX_CLASSES = 64;

export interface ConvGeometry {
  /** Input width = height (square feature maps), before the layer. */
  inDim: number;
  inChannels: number;
  /** Kernel width = height (3 everywhere: valid cross-correlation, stride 1). */
  kernel: number;
  /** 2x2 stride-2 max-pool after the thresholds (the overlay pools after, training before batch norm). */
  pool: boolean;
}

export interface OverlayLayer {
  kind: 'conv' | 'dense';
  /** Present for conv layers. */
  conv?: ConvGeometry;
  /** Dense: inputs. Conv: kernel² · input channels. */
  fanIn: number;
  /** Output neurons / channels; `'classes'` for the output layer. */
  neurons: number | 'classes';
  simd: number;
  pe: number;
  /** Weight bits: 1 = binary ±1, 2 = ternary {-1, 0, +1}. */
  weightBits: 1 | 2;
  /** Bits of this layer's input: 1 binary, 2 ternary, 8 = 8-bit fixed point pixels (CNV layer 0). */
  inputBits: 1 | 2 | 8;
  /** Output activation bits: 1 (one threshold), 2 (two thresholds, ternary); `'scores'` = 16-bit sums, no thresholds. */
  outputBits: 1 | 2 | 'scores';
  /** The training npz stores a bias for this layer (Lasagne `b`); CNV's last dense layer has `b=None`. */
  bias: boolean;
}

export type InputFormat =
  /** idx images, 28 x 28 bytes; pixel >= 128 is a 1 bit, 784 bits padded to 832 with 0 bits. */
  | { kind: 'mnist-bits'; rows: 28; cols: 28 }
  /** CIFAR-10 binary records: 32 x 32 RGB bytes, quantized to ap_fixed<8,1> as the host does. */
  | { kind: 'cifar-rgb'; rows: 32; cols: 32; channels: 3 };

/** How the host turns the output lanes into a class (docs/overlays.md §4). */
export type DecisionRule = 'highest-set-bit' | 'max-positive-score';

export interface Overlay {
  name: OverlayName;
  family: 'lfc' | 'cnv';
  input: InputFormat;
  layers: readonly OverlayLayer[];
  decision: DecisionRule;
  maxClasses: number;
}

const conv = (
  inDim: number,
  inChannels: number,
  neurons: number,
  pool: boolean,
  simd: number,
  pe: number,
  weightBits: 1 | 2,
  inputBits: 1 | 2 | 8,
  outputBits: 1 | 2,
): OverlayLayer => ({
  kind: 'conv',
  conv: { inDim, inChannels, kernel: 3, pool },
  fanIn: 9 * inChannels,
  neurons,
  simd,
  pe,
  weightBits,
  inputBits,
  outputBits,
  bias: true,
});

const dense = (
  fanIn: number,
  neurons: number | 'classes',
  simd: number,
  pe: number,
  weightBits: 1 | 2,
  inputBits: 1 | 2,
  outputBits: 1 | 2 | 'scores',
  bias = true,
): OverlayLayer => ({ kind: 'dense', fanIn, neurons, simd, pe, weightBits, inputBits, outputBits, bias });

/** LFC: 784 -> 1024 -> 1024 -> 1024 -> C, binarized MNIST pixels in (docs/overlays.md §1). */
function lfc(name: 'lfcW1A1' | 'lfcW1A2', a: 1 | 2): Overlay {
  return {
    name,
    family: 'lfc',
    input: { kind: 'mnist-bits', rows: 28, cols: 28 },
    layers: [
      dense(784, 1024, 64, 32, 1, 1, a),
      dense(1024, 1024, 32, 64, 1, a, a),
      dense(1024, 1024, 64, 32, 1, a, a),
      dense(1024, 'classes', 8, 16, 1, a, 1),
    ],
    decision: 'highest-set-bit',
    maxClasses: MAX_CLASSES,
  };
}

/**
 * CNV: six 3x3 convs (pool after 1 and 3), two dense 512, one dense C without thresholds
 * (BNN-PYNQ cnv.py; folding from cifar10-gen-weights-W*A*.py).
 */
function cnv(name: 'cnvW1A1' | 'cnvW1A2' | 'cnvW2A2', w: 1 | 2, a: 1 | 2): Overlay {
  const [pe, simd] =
    w === 1
      ? [
          [16, 32, 16, 16, 4, 1, 1, 1, 4],
          [3, 32, 32, 32, 32, 32, 4, 8, 1],
        ]
      : [
          [8, 16, 8, 8, 4, 1, 1, 2, 4],
          [3, 16, 16, 16, 8, 8, 2, 2, 1],
        ];
  const P = (l: number) => must(pe[l], `${name}'s PE of layer ${l}`);
  const S = (l: number) => must(simd[l], `${name}'s SIMD of layer ${l}`);
  return {
    name,
    family: 'cnv',
    input: { kind: 'cifar-rgb', rows: 32, cols: 32, channels: 3 },
    layers: [
      conv(32, 3, 64, false, S(0), P(0), w, 8, a),
      conv(30, 64, 64, true, S(1), P(1), w, a, a),
      conv(14, 64, 128, false, S(2), P(2), w, a, a),
      conv(12, 128, 128, true, S(3), P(3), w, a, a),
      conv(5, 128, 256, false, S(4), P(4), w, a, a),
      conv(3, 256, 256, false, S(5), P(5), w, a, a),
      dense(256, 512, S(6), P(6), w, a, a),
      dense(512, 512, S(7), P(7), w, a, a),
      dense(512, 'classes', S(8), P(8), w, a, 'scores', false),
    ],
    decision: 'max-positive-score',
    maxClasses: MAX_CLASSES,
  };
}

export const OVERLAYS: Readonly<Record<OverlayName, Overlay>> = {
  lfcW1A1: lfc('lfcW1A1', 1),
  lfcW1A2: lfc('lfcW1A2', 2),
  cnvW1A1: cnv('cnvW1A1', 1, 1),
  cnvW1A2: cnv('cnvW1A2', 1, 2),
  cnvW2A2: cnv('cnvW2A2', 2, 2),
};

/** How many class names an overlay takes (the class-name rule's limit, lib/class-names.ts). */
export const maxClassesOf = (network: OverlayName): number => OVERLAYS[network].maxClasses;

export const isOverlayName = (s: string): s is OverlayName =>
  (OVERLAY_NAMES as readonly string[]).includes(s);

export const padTo = (v: number, m: number): number => Math.ceil(v / m) * m;

/** Layer `l` of the overlay (the callers' `l` runs over its layers). */
/** Layer `l` of overlay `o` (its table entry), for an index the caller keeps in range. */
export const layerOf = (o: Overlay, l: number): OverlayLayer => must(o.layers[l], `${o.name} layer ${l}`);

/** Padded fan-in MW: a multiple of SIMD; the first dense layer of an LFC pads to 64 bits (the AXI word). */
export function paddedFanIn(o: Overlay, l: number): number {
  const layer = layerOf(o, l);
  return padTo(layer.fanIn, o.family === 'lfc' && l === 0 ? Math.max(layer.simd, 64) : layer.simd);
}

/** Padded neurons MH: a multiple of PE; the output layer always has 64 rows (lanes). */
export function paddedNeurons(o: Overlay, l: number): number {
  const layer = layerOf(o, l);
  return layer.neurons === 'classes'
    ? padTo(o.maxClasses, Math.max(layer.pe, 64))
    : padTo(layer.neurons, layer.pe);
}

export const realNeurons = (layer: OverlayLayer, classes: number): number =>
  layer.neurons === 'classes' ? classes : layer.neurons;

/** Thresholds per neuron: 2^(A-1) (1 for binary, 2 for ternary outputs), none for the scores layer. */
export const thresholdsPerNeuron = (layer: OverlayLayer): number =>
  layer.outputBits === 'scores' ? 0 : 2 ** (layer.outputBits - 1);

/**
 * The converter's threshold rule for a layer (finnthesizer; docs/overlays.md §2.2):
 * - `fixed-point`: 8-bit input layer, thresholds in units of 1/256, floor/ceil, no saturation;
 * - `popcount-conv`: W=A=I=1 conv: floor/ceil, then trunc((fanin + F) / 2), int16;
 * - `popcount-dense`: W=A=I=1 dense: trunc((fanin + s·T) / 2) without floor/ceil first, int16;
 * - `signed`: any other thresholded layer: floor/ceil, minus the AccuOffset, int16;
 * - `none`: the scores layer.
 */
export type ThresholdRule = 'fixed-point' | 'popcount-conv' | 'popcount-dense' | 'signed' | 'none';

export function thresholdRule(layer: OverlayLayer): ThresholdRule {
  if (layer.outputBits === 'scores') return 'none';
  if (layer.inputBits === 8) return 'fixed-point';
  if (layer.weightBits === 1 && layer.inputBits === 1 && layer.outputBits === 1)
    return layer.kind === 'conv' ? 'popcount-conv' : 'popcount-dense';
  return 'signed';
}

/**
 * What the overlay's matrix-vector unit accumulates (docs/overlays.md §3.2):
 * - `popcount`: XNOR-popcount of binary weights and binary inputs (0..MW), exactly when the converter
 *   wrote popcount thresholds, and in cnvW1A1's scores layer;
 * - `signed`: Σ w·a over the padded width (pads count with their values);
 * - `fixed-point`: Σ w·b for int8 pixel bytes b, compared as 2·Σ w·b against the 1/256 thresholds.
 */
export type Arithmetic = 'popcount' | 'signed' | 'fixed-point';

export function arithmetic(layer: OverlayLayer): Arithmetic {
  if (layer.inputBits === 8) return 'fixed-point';
  if (layer.weightBits === 1 && layer.inputBits === 1 && layer.outputBits !== 2) return 'popcount';
  return 'signed';
}

/**
 * finnthesizer's AccuOffset: subtracted from every stored threshold of a layer whose padding is not
 * transparent (binary weights with multi-bit activations: each pad column adds +1 · -1). Only lfcW1A2's
 * first layer has one (832 - 784 = 48).
 */
export function accuOffset(o: Overlay, l: number): number {
  const layer = layerOf(o, l);
  if (layer.weightBits >= 2) return 0;
  if (layer.weightBits === 1 && layer.inputBits === 1 && layer.outputBits === 1) return 0;
  if (layer.outputBits === 'scores') return 0;
  return paddedFanIn(o, l) - layer.fanIn;
}

/** Threshold saturation range (int16) and the pad value before saturation (2^numThresBits - 1). */
export const INT16_MIN = -32768;
export const INT16_MAX = 32767;
export const PAD_THRESHOLD_16 = 2 ** 16 - 1;
export const PAD_THRESHOLD_24 = 2 ** 24 - 1;

export const weightFile = (layer: number, pe: number): string => `${layer}-${pe}-weights.bin`;
export const thresholdFile = (layer: number, pe: number): string => `${layer}-${pe}-thres.bin`;
/** The class names of a param folder, one per line (every overlay). */
export const CLASSES_FILE = 'classes.txt';

/**
 * Byte sizes of each of layer l's per-PE files (docs/overlays.md §2.4): TMEM · SF uint64 weight words,
 * TMEM · nthr int64 thresholds (0: the scores layer has no threshold files).
 */
export function layerFileSizes(o: Overlay, l: number): { weights: number; thresholds: number } {
  const layer = layerOf(o, l);
  const tmem = paddedNeurons(o, l) / layer.pe;
  return {
    weights: (paddedFanIn(o, l) / layer.simd) * tmem * 8,
    thresholds: tmem * thresholdsPerNeuron(layer) * 8,
  };
}

/** Expected byte size of every .bin file of an overlay's param folder. */
export function expectedFiles(o: Overlay): Map<string, number> {
  const out = new Map<string, number>();
  o.layers.forEach((layer, l) => {
    const sizes = layerFileSizes(o, l);
    for (let p = 0; p < layer.pe; p++) {
      out.set(weightFile(l, p), sizes.weights);
      if (sizes.thresholds > 0) out.set(thresholdFile(l, p), sizes.thresholds);
    }
  });
  return out;
}

/** Arrays per layer in the training npz: W, [b], beta, gamma, mean, inv_std. */
export const arraysPerLayer = (layer: OverlayLayer): number => (layer.bias ? 6 : 5);
export const npzArrayCount = (o: Overlay): number => o.layers.reduce((n, l) => n + arraysPerLayer(l), 0);
