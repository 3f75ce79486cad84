/** Public data types of the BNN toolkit (pure data; no I/O). */

export type NpyDtype = '<f4' | '<f8';

/** One array of an .npz, values widened to float64 (exact for <f4), C order. */
export interface NdArray {
  /** Entry name without `.npy`, e.g. `arr_0`. */
  name: string;
  dtype: NpyDtype;
  shape: number[];
  data: Float64Array;
}

/**
 * One trained layer as the training script saves it (6 arrays per layer); `b` is zeros for CNV's last layer
 * (no bias).
 */
export interface TrainedLayer {
  fanIn: number;
  fanOut: number;
  /**
   * Dense: W[i * fanOut + n], weight of input i into neuron n (npz `(fan_in, fan_out)`, C order).
   * Conv: W[((o * C + c) * 3 + ky) * 3 + kx] (npz `(C_out, C_in, 3, 3)`).
   */
  W: Float64Array;
  b: Float64Array;
  beta: Float64Array;
  gamma: Float64Array;
  mean: Float64Array;
  invStd: Float64Array;
}

/** One dense layer of a trained LFC (W in the dense order above). */
export type DenseLayer = TrainedLayer;

/** A validated lfcW1A1 model: 784 -> 1024 -> 1024 -> 1024 -> classes (1..64). */
export interface LfcModel {
  network: 'lfcW1A1';
  /** Where it came from (file name), for messages. */
  source: string;
  layers: DenseLayer[];
  classes: number;
}

/** Folding of one overlay layer (fixed by the bitstream). */
export interface LayerShape {
  simd: number;
  pe: number;
  /** Padded fan-in (synapses). */
  mw: number;
  /** Padded neuron count. */
  mh: number;
}

/** One layer as the hardware sees it: padded bit matrix and int16 thresholds. */
export interface LayerParams extends LayerShape {
  /**
   * Weight bits, neuron-major: neuron n occupies words [n * mw/32, (n+1) * mw/32); bit j (LSB first)
   * of word w is synapse 32 * w + j.
   */
  bits: Uint32Array;
  /** One threshold per (padded) neuron, as the hardware reads it (signed 16-bit). */
  thresholds: Int16Array;
}

/** A complete lfcW1A1 param folder in memory. */
export interface LfcParams {
  network: 'lfcW1A1';
  layers: LayerParams[];
  /** Class names from classes.txt (its length is the number of used outputs, 1..64). */
  classes: string[];
}

/** What convert reports per layer (lfcW1A1's converter and every overlay's). */
export interface LayerSummary {
  layer: number;
  fanIn: number;
  fanOut: number;
  paddedFanIn: number;
  paddedNeurons: number;
  simd: number;
  pe: number;
  /** Neurons with gamma < 0 (their weights and threshold sign are flipped). */
  flipped: number;
  /** Thresholds clipped to the int16 range (real neurons only; padding rows excluded). */
  saturated: number;
}

export interface ConvertSummary {
  network: 'lfcW1A1';
  classes: number;
  layers: LayerSummary[];
  fileCount: number;
}

export interface ConvertResult {
  /** File name (relative to the lfcW1A1 folder) -> bytes: 288 .bin files and classes.txt. */
  files: Map<string, Uint8Array>;
  params: LfcParams;
  summary: ConvertSummary;
}

/** The accuracy tally every verify report has (lfcW1A1's and every overlay's). */
export interface AccuracyTally {
  /** Percent, 0..100. */
  accuracy: number;
  correct: number;
  total: number;
  perClass: Array<{ index: number; name: string; total: number; correct: number; accuracy: number | null }>;
  /** confusion[label][predicted]. */
  confusion: number[][];
  microsecondsPerImage: number;
}

export interface VerifyReport extends AccuracyTally {
  /** Images where no output bit fired (the board reads them as class 0). */
  noBitFired: number;
  /** Images where more than one output bit fired (the board takes the highest). */
  severalBitsFired: number;
}

/** Why the float model and the hardware-exact simulator disagree on one image. */
export interface Disagreement {
  image: number;
  label: number;
  board: number;
  floatBoardRule: number;
  /** Human-readable: which layer, which neuron, its pre-activation vs threshold. */
  reason: string;
}

export interface FloatComparison {
  total: number;
  /** Float model, argmax of the last batch-norm output. */
  argmax: { correct: number; accuracy: number };
  /** Float model, board rule (highest positive output; 0 if none). */
  boardRule: { correct: number; accuracy: number };
  /** Hardware-exact simulator of the param folder. */
  hardware: { correct: number; accuracy: number };
  /** Images on which float board rule == hardware. */
  agreement: { same: number; percent: number };
  /**
   * Images whose class changes at each step from training's argmax to the board (as for every overlay,
   * lib/bnn/overlay-float.ts): pool order (none in an LFC), the decision rule, the integer thresholds.
   */
  causes: { poolOrder: number; lastLayerAndRule: number; thresholdRounding: number };
  disagreements: Disagreement[];
}
