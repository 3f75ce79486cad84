import { must } from '../defined';
import { InputFormatError } from '../errors';
import { highestSetBit, maxPositiveScore } from './decision';
import { argmax } from './float-model';
import type { OverlayModel } from './overlay-model';
import type { OverlayParams } from './overlay-params';
import {
  cifarHostBytes,
  createOverlaySimulator,
  mnistPlanes,
  type Planes,
  type SimulatorInput,
} from './overlay-simulate';
import { type OverlayLayer, paddedFanIn, thresholdRule } from './overlays';
import type { TrainedLayer } from './types';
import { align, CHUNK_BYTES, chunksFor, instantiateBnnKernel } from './wasm-kernel';

/**
 * The trained float model of any overlay, independent of the converter (docs/overlays.md §5): weights
 * quantized from the npz (binary: W >= 0 -> +1; ternary: floor(W + 0.5)), not flipped, not padded; the
 * stored batch norm `(x - mean)·gamma·inv_std + beta` in float64; activations as training quantizes them
 * (binary: >= 0 -> +1; ternary: >= 0.5 -> +1, >= -0.5 -> 0, else -1). Inputs and weights are -1 / 0 / +1
 * (or the input bytes / 128), so every dot product is exact; only batch norm is floating point.
 *
 * Two orders: `overlay` (threshold, then max-pool the activations, as the board does) and `training`
 * (max-pool the conv outputs, then batch norm and activation, as BNN-PYNQ's cnv.py does).
 */
export type GraphOrder = 'overlay' | 'training';

interface FloatLayer {
  layer: OverlayLayer;
  t: TrainedLayer;
  cols: number;
  words: number;
  wnz: Uint32Array;
  wneg: Uint32Array;
  wint: Int32Array;
  scale: Float64Array;
}

function quantizeWeight(layer: OverlayLayer, v: number): number {
  return layer.weightBits === 1 ? (v >= 0 ? 1 : -1) : Math.floor(v + 0.5);
}

function prepare(model: OverlayModel): FloatLayer[] {
  const { overlay } = model;
  return overlay.layers.map((layer, l) => {
    const t = must(model.layers[l], 'the trained layers');
    const cols = paddedFanIn(overlay, l);
    const words = Math.ceil(cols / 32);
    const wnz = new Uint32Array(t.fanOut * words);
    const wneg = new Uint32Array(t.fanOut * words);
    const wint = new Int32Array(layer.inputBits === 8 ? t.fanOut * cols : 0);
    for (let n = 0; n < t.fanOut; n++)
      for (let c = 0; c < t.fanIn; c++) {
        let w: number;
        if (layer.conv) {
          const C = layer.conv.inChannels;
          const ch = c % C;
          const pos = (c - ch) / C;
          const kx = pos % 3;
          const ky = (pos - kx) / 3;
          w = must(t.W[((n * C + ch) * 3 + ky) * 3 + kx], 'the conv weights');
        } else w = must(t.W[c * t.fanOut + n], 'the dense weights');
        const q = quantizeWeight(layer, w);
        if (wint.length > 0) wint[n * cols + c] = q;
        const word = n * words + (c >>> 5);
        const bit = 1 << (c & 31);
        if (q !== 0) wnz[word] = (must(wnz[word], 'the non-zero plane') | bit) >>> 0;
        if (q < 0) wneg[word] = (must(wneg[word], 'the negative plane') | bit) >>> 0;
      }
    const scale = new Float64Array(t.fanOut);
    for (let n = 0; n < t.fanOut; n++) scale[n] = must(t.gamma[n], 'gamma') * must(t.invStd[n], 'inv_std');
    return { layer, t, cols, words, wnz, wneg, wint, scale };
  });
}

/** Batch norm of a pre-activation (Lasagne's order of operations). */
const bn = (f: FloatLayer, n: number, pre: number): number =>
  (pre - must(f.t.mean[n], 'mean')) * must(f.scale[n], 'the batch-norm scale') + must(f.t.beta[n], 'beta');

/** Training's activation quantizer on a batch-norm output. */
function act(layer: OverlayLayer, v: number): number {
  if (layer.outputBits === 1) return v >= 0 ? 1 : -1;
  return v >= 0.5 ? 1 : v >= -0.5 ? 0 : -1;
}

function valuesToPlanes(values: Int8Array, pixels: number, channels: number): Planes {
  const cw = Math.ceil(channels / 32);
  const x: Planes = { nz: new Uint32Array(pixels * cw), neg: new Uint32Array(pixels * cw) };
  for (let p = 0; p < pixels; p++)
    for (let g = 0; g < cw; g++) {
      // One 32-channel word of each plane at a time, written once.
      let nz = 0;
      let neg = 0;
      const base = p * channels + g * 32;
      const end = Math.min(32, channels - g * 32);
      for (let j = 0; j < end; j++) {
        const v = must(values[base + j], 'the activations');
        if (v !== 0) nz |= 1 << j;
        if (v < 0) neg |= 1 << j;
      }
      x.nz[p * cw + g] = nz >>> 0;
      x.neg[p * cw + g] = neg >>> 0;
    }
  return x;
}

/**
 * The float model's exact integer dot products, in the WebAssembly kernels (the same ones the hardware
 * simulator uses, on the float model's own unflipped, unpadded weights).
 */
function createDots(layers: FloatLayer[]) {
  let offset = 0;
  const take = (bytes: number) => {
    const start = offset;
    offset = align(offset + bytes);
    return start;
  };
  const placed = layers.map((f) => {
    const fixed = f.layer.inputBits === 8;
    const chunks = fixed ? Math.ceil((f.cols * 16) / 128) : chunksFor(f.cols);
    const rows = f.t.fanOut;
    return {
      chunks,
      rows,
      wnz: take(rows * chunks * CHUNK_BYTES),
      wneg: fixed ? 0 : take(rows * chunks * CHUNK_BYTES),
    };
  });
  const maxChunks = Math.max(...placed.map((p) => p.chunks));
  const maxRows = Math.max(...placed.map((p) => p.rows));
  const inBytes = Math.max(
    ...layers.map((f) =>
      f.layer.conv ? f.layer.conv.inDim ** 2 * Math.ceil(f.layer.conv.inChannels / 32) * 4 : 0,
    ),
  );
  const inNz = take(inBytes);
  const inNeg = take(inBytes);
  const colNz = take(maxChunks * CHUNK_BYTES);
  const colNeg = take(maxChunks * CHUNK_BYTES);
  const acc = take(maxRows * 4);
  const k = instantiateBnnKernel(offset);
  const u32 = new Uint32Array(k.memory.buffer);
  const i32 = new Int32Array(k.memory.buffer);
  const i16 = new Int16Array(k.memory.buffer);
  const placement = (l: number) => must(placed[l], 'the placed layers');
  layers.forEach((f, l) => {
    const p = placement(l);
    for (let n = 0; n < p.rows; n++) {
      if (f.layer.inputBits === 8) {
        for (let c = 0; c < f.cols; c++)
          i16[p.wnz / 2 + n * p.chunks * 8 + c] = must(f.wint[n * f.cols + c], 'the 8-bit layer weights');
        continue;
      }
      u32.set(f.wnz.subarray(n * f.words, (n + 1) * f.words), p.wnz / 4 + n * p.chunks * 4);
      u32.set(f.wneg.subarray(n * f.words, (n + 1) * f.words), p.wneg / 4 + n * p.chunks * 4);
    }
  });
  const col16 = new Int16Array(k.memory.buffer, colNz, maxChunks * 8);
  const clearColumn = () => {
    u32.fill(0, colNz / 4, colNz / 4 + maxChunks * 4);
    u32.fill(0, colNeg / 4, colNeg / 4 + maxChunks * 4);
  };
  return {
    /** Σ w·a of every neuron of dense layer l with the input planes. */
    dense(l: number, x: Planes): Int32Array {
      const p = placement(l);
      clearColumn();
      u32.set(x.nz.subarray(0, Math.min(x.nz.length, p.chunks * 4)), colNz / 4);
      u32.set(x.neg.subarray(0, Math.min(x.neg.length, p.chunks * 4)), colNeg / 4);
      k.planesDot(p.wnz, p.wneg, colNz, colNeg, acc, p.rows, p.chunks);
      return i32.subarray(acc / 4, acc / 4 + p.rows);
    },
    /** Σ w·a of every neuron at every output pixel of conv layer l (pixel-major), input planes `x`. */
    conv(l: number, x: Planes, inDim: number, cw: number, od: number): Int32Array {
      const p = placement(l);
      const out = new Int32Array(od * od * p.rows);
      u32.set(x.nz, inNz / 4);
      u32.set(x.neg, inNeg / 4);
      clearColumn();
      for (let y = 0; y < od; y++)
        for (let xx = 0; xx < od; xx++) {
          k.im2col3x3(inNz, inNeg, inDim, cw * 4, y, xx, colNz, colNeg);
          k.planesDot(p.wnz, p.wneg, colNz, colNeg, acc, p.rows, p.chunks);
          out.set(i32.subarray(acc / 4, acc / 4 + p.rows), (y * od + xx) * p.rows);
        }
      return out;
    },
    /** Σ w·b of the 8-bit first layer at every output pixel, from the host's bytes (pixel-major RGB). */
    first(l: number, hwc: Int32Array, inDim: number, C: number, od: number): Int32Array {
      const p = placement(l);
      const out = new Int32Array(od * od * p.rows);
      col16.fill(0);
      for (let y = 0; y < od; y++)
        for (let xx = 0; xx < od; xx++) {
          for (let ky = 0; ky < 3; ky++)
            for (let kx = 0; kx < 3; kx++)
              for (let c = 0; c < C; c++)
                col16[(ky * 3 + kx) * C + c] = must(
                  hwc[((y + ky) * inDim + xx + kx) * C + c],
                  'the host bytes',
                );
          k.dotI16(p.wnz, colNz, acc, p.rows, p.chunks);
          out.set(i32.subarray(acc / 4, acc / 4 + p.rows), (y * od + xx) * p.rows);
        }
      col16.fill(0);
      return out;
    },
  };
}

export interface FloatForward {
  /** The last layer's batch-norm outputs (what training's argmax reads). */
  outputs: Float64Array;
  /** The board's lanes computed from the float model: LFC bits (output >= 0), CNV s·Σ w·a. */
  lanes: Int32Array;
  /** The outputs of each max-pooled layer (values -1 / 0 / +1), for counting pool-order differences. */
  pooled: Int8Array[];
  /** Every hidden layer's outputs (after pooling; pixel-major, channel fastest) and, unpooled, their batch-norm values. */
  values: Int8Array[];
  normalized: Array<Float64Array | undefined>;
}

export function createFloatModel(model: OverlayModel): {
  forward(input: SimulatorInput, image: number, order: GraphOrder): FloatForward;
} {
  const layers = prepare(model);
  const dots = createDots(layers);
  const classes = model.classes;
  return {
    forward(input, image, order) {
      const pooled: Int8Array[] = [];
      const trace: Int8Array[] = [];
      const normalized: Array<Float64Array | undefined> = [];
      let x: Planes | undefined;
      let hwc: Int32Array | undefined;
      if (input.kind === 'mnist') x = mnistPlanes(input.pixels, image, must(layers[0], 'the layers').cols);
      else hwc = cifarHostBytes(input.pixels, image, 32, 3);
      for (const [l, f] of layers.entries()) {
        const { layer, t } = f;
        const conv = layer.conv;
        const rows = t.fanOut;
        if (l === layers.length - 1) {
          const outputs = new Float64Array(rows);
          const lanes = new Int32Array(rows);
          const sums = dots.dense(l, must(x, 'the input planes'));
          for (let n = 0; n < rows; n++) {
            const d = must(sums[n], 'the sums');
            const out = bn(f, n, d + must(t.b[n], 'the bias'));
            outputs[n] = out;
            lanes[n] =
              layer.outputBits === 'scores' ? (must(t.gamma[n], 'gamma') < 0 ? -d : d) : out >= 0 ? 1 : 0;
          }
          return { outputs, lanes: lanes.subarray(0, classes), pooled, values: trace, normalized };
        }
        if (!conv) {
          const values = new Int8Array(rows);
          const norm = new Float64Array(rows);
          const sums = dots.dense(l, must(x, 'the input planes'));
          for (let n = 0; n < rows; n++) {
            const v = bn(f, n, must(sums[n], 'the sums') + must(t.b[n], 'the bias'));
            norm[n] = v;
            values[n] = act(layer, v);
          }
          trace.push(values);
          normalized.push(norm);
          x = valuesToPlanes(values, 1, rows);
          continue;
        }
        const inDim = conv.inDim;
        const od = inDim - 2;
        const C = conv.inChannels;
        const pre = new Float64Array(od * od * rows);
        const sums =
          hwc && l === 0
            ? dots.first(l, hwc, inDim, C, od)
            : dots.conv(l, must(x, 'the input planes'), inDim, C / 32, od);
        // Layer 0 sums are in units of 1/128 (the host's bytes are value·128).
        const unit = hwc && l === 0 ? 1 / 128 : 1;
        for (let i = 0; i < pre.length; i++)
          pre[i] = must(sums[i], 'the sums') * unit + must(t.b[i % rows], 'the bias');
        let values: Int8Array;
        let dim = od;
        if (conv.pool && order === 'training') {
          // Training: max-pool the conv outputs, then batch norm and activation.
          dim = od >> 1;
          values = new Int8Array(dim * dim * rows);
          for (let y = 0; y < dim; y++)
            for (let xx = 0; xx < dim; xx++)
              for (let n = 0; n < rows; n++) {
                let m = Number.NEGATIVE_INFINITY;
                for (const [dy, dx] of WINDOW)
                  m = Math.max(
                    m,
                    must(pre[((2 * y + dy) * od + 2 * xx + dx) * rows + n], 'the pre-activations'),
                  );
                values[(y * dim + xx) * rows + n] = act(layer, bn(f, n, m));
              }
          normalized.push(undefined);
        } else {
          values = new Int8Array(od * od * rows);
          const norm = new Float64Array(od * od * rows);
          for (let i = 0, n = 0; i < od * od * rows; i++, n = n + 1 === rows ? 0 : n + 1) {
            const v = bn(f, n, must(pre[i], 'the pre-activations'));
            norm[i] = v;
            values[i] = act(layer, v);
          }
          normalized.push(conv.pool ? undefined : norm);
          if (conv.pool) {
            // The overlay: activation first, then the max of the activations.
            dim = od >> 1;
            const p = new Int8Array(dim * dim * rows);
            for (let y = 0; y < dim; y++)
              for (let xx = 0; xx < dim; xx++)
                for (let n = 0; n < rows; n++) {
                  let m = -1;
                  for (const [dy, dx] of WINDOW)
                    m = Math.max(
                      m,
                      must(values[((2 * y + dy) * od + 2 * xx + dx) * rows + n], 'the activations'),
                    );
                  p[(y * dim + xx) * rows + n] = m;
                }
            values = p;
          }
        }
        if (conv.pool) pooled.push(values);
        trace.push(values);
        x = valuesToPlanes(values, dim * dim, rows);
        hwc = undefined;
      }
      throw new Error('unreachable: the last layer returns');
    },
  };
}

const WINDOW = [
  [0, 0],
  [0, 1],
  [1, 0],
  [1, 1],
] as const;

export interface OverlayFloatComparison {
  total: number;
  /** Argmax of the last batch norm, training graph order: what training reports. */
  training: { correct: number; accuracy: number };
  /** Argmax of the last batch norm, overlay order (threshold, then pool). */
  overlayOrder: { correct: number; accuracy: number };
  /** The board's decision rule on the overlay-order float model's lanes. */
  floatBoardRule: { correct: number; accuracy: number };
  /** The hardware-exact simulator of the param folder. */
  hardware: { correct: number; accuracy: number };
  /** Images whose class changes at each step from training's class to the board's. */
  causes: {
    /** training order -> overlay order (pool before vs after batch norm, gamma < 0 channels). */
    poolOrder: number;
    /** overlay-order argmax -> board rule on float lanes (last batch norm ignored but its sign; decision rule). */
    lastLayerAndRule: number;
    /**
     * float board rule -> hardware: the converter's integer thresholds. For a flipped neuron (gamma < 0)
     * of a non-popcount layer finnthesizer stores ceil(s·T), so the board fires one accumulator step
     * later than training; otherwise only a value exactly at a threshold (a tie) can differ.
     */
    thresholdRounding: number;
  };
  /** Per max-pooled layer: outputs (summed over images) that differ between the two orders. */
  poolOutputs: Array<{ layer: number; outputs: number; differing: number; differingNegativeGamma: number }>;
  /** Images where overlay-order float and hardware disagree (first `maxListed`). */
  disagreements: Array<{
    image: number;
    label: number;
    hardware: number;
    floatBoardRule: number;
    reason: string;
  }>;
}

/** Runs the float model in both orders and the hardware simulator on the same images, and attributes every class change. */
export function compareOverlayWithFloat(
  model: OverlayModel,
  params: OverlayParams,
  input: SimulatorInput,
  labels: Uint8Array,
  options: { maxListed?: number } = {},
): OverlayFloatComparison {
  if (model.overlay.name !== params.overlay.name)
    throw new InputFormatError(
      model.source,
      `a ${model.overlay.name} model, but the param folder is ${params.overlay.name}`,
    );
  if (params.classes.length !== model.classes)
    throw new InputFormatError(
      model.source,
      `${model.classes} outputs, but the param folder has ${params.classes.length} classes: not the model it was converted from`,
    );
  const count = labels.length;
  const classes = model.classes;
  const hw = new Uint8Array(count);
  const sim = createOverlaySimulator(params);
  sim.run(input, 0, count, hw);
  const float = createFloatModel(model);
  const rule = params.overlay.decision === 'highest-set-bit' ? highestSetBit : maxPositiveScore;
  const pooledLayers = model.overlay.layers.flatMap((l, i) => (l.conv?.pool ? [i] : []));
  const poolOutputs = pooledLayers.map((layer) => ({
    layer,
    outputs: 0,
    differing: 0,
    differingNegativeGamma: 0,
  }));
  const ok = { training: 0, overlayOrder: 0, floatBoardRule: 0, hardware: 0 };
  const causes = { poolOrder: 0, lastLayerAndRule: 0, thresholdRounding: 0 };
  const disagreements: OverlayFloatComparison['disagreements'] = [];
  for (let i = 0; i < count; i++) {
    const label = must(labels[i], 'the labels');
    const o = float.forward(input, i, 'overlay');
    const t = pooledLayers.length > 0 ? float.forward(input, i, 'training') : o;
    const trainingClass = argmax(t.outputs);
    const overlayClass = argmax(o.outputs);
    const boardFloat = rule(o.lanes, classes);
    const h = must(hw[i], 'the hardware classes');
    if (trainingClass === label) ok.training++;
    if (overlayClass === label) ok.overlayOrder++;
    if (boardFloat === label) ok.floatBoardRule++;
    if (h === label) ok.hardware++;
    if (trainingClass !== overlayClass) causes.poolOrder++;
    if (overlayClass !== boardFloat) causes.lastLayerAndRule++;
    if (boardFloat !== h) {
      causes.thresholdRounding++;
      if (disagreements.length < (options.maxListed ?? 1000))
        disagreements.push({
          image: i,
          label,
          hardware: h,
          floatBoardRule: boardFloat,
          reason: explain(model, sim, input, i, o),
        });
    }
    poolOutputs.forEach((p, k) => {
      const a = must(o.pooled[k], 'the overlay-order pooled outputs');
      const b = must(t.pooled[k], 'the training-order pooled outputs');
      const gamma = must(model.layers[p.layer], 'the trained layers').gamma;
      p.outputs += a.length;
      for (let j = 0; j < a.length; j++)
        if (must(a[j], 'the overlay-order pooled outputs') !== b[j]) {
          p.differing++;
          if (must(gamma[j % gamma.length], 'gamma') < 0) p.differingNegativeGamma++;
        }
    });
  }
  const pct = (n: number) => ({ correct: n, accuracy: count === 0 ? 0 : (100 * n) / count });
  return {
    total: count,
    training: pct(ok.training),
    overlayOrder: pct(ok.overlayOrder),
    floatBoardRule: pct(ok.floatBoardRule),
    hardware: pct(ok.hardware),
    causes,
    poolOutputs,
    disagreements,
  };
}

/**
 * Why the overlay-order float model and the hardware disagree on one image: the first layer whose
 * outputs differ, how many differ, and for the first one its float batch-norm output against the
 * activation's step (0, or -0.5 / +0.5): a value exactly at the step is a tie (training's `>=` against the
 * board's `>`); anything else is the converter's integer rounding of that threshold.
 */
function explain(
  model: OverlayModel,
  sim: ReturnType<typeof createOverlaySimulator>,
  input: SimulatorInput,
  image: number,
  o: FloatForward,
): string {
  const hw = sim.layerValues(input, image);
  for (const [l, f] of o.values.entries()) {
    const h = must(hw[l], "the hardware's layer values");
    const differing: number[] = [];
    for (const [j, v] of f.entries()) if (v !== h[j]) differing.push(j);
    const [j] = differing;
    if (j === undefined) continue;
    const norm = o.normalized[l]?.[j];
    const layer = must(model.overlay.layers[l], 'the overlay layers');
    const trained = must(model.layers[l], 'the trained layers');
    const neuron = j % trained.fanOut;
    const flipped = must(trained.gamma[neuron], 'gamma') < 0;
    const why =
      norm === 0 || norm === 0.5 || norm === -0.5
        ? 'exactly at the step: a tie (training fires at >=, the board at >)'
        : flipped && thresholdRule(layer) !== 'popcount-conv' && thresholdRule(layer) !== 'popcount-dense'
          ? `gamma < 0 at neuron ${neuron}: finnthesizer stores ceil(s·T) for a flipped neuron, so the board needs one more accumulator step than training`
          : 'the stored integer threshold rounds the float one';
    const detail = norm === undefined ? 'after the max-pool' : `batch-norm output ${norm}: ${why}`;
    return `layer ${l} output ${j}${differing.length > 1 ? ` (+${differing.length - 1} more)` : ''}: hardware ${h[j]}, float ${f[j]} (${detail})`;
  }
  return 'no hidden layer differs; the output lanes do (a ternary output-layer weight at ±0.5, or a tie)';
}
