import { must } from '../defined';
import { InputFormatError } from '../errors';
import { highestSetBit } from './decision';
import type { IdxImages, IdxLabels } from './idx';
import { LFC_INPUTS } from './lfc';
import { binarizeImage, checkImageShape, createSimulator, popcount32 } from './simulate';
import type { DenseLayer, Disagreement, FloatComparison, LfcModel, LfcParams } from './types';
import { createMismatchCounter } from './wasm-kernel';

/**
 * The trained float model as training evaluates it, independent of the converter: binarized input
 * (pixel >= 128 -> +1, else -1), weights binarized by sign (W >= 0 -> +1), pre-activation W·x + b,
 * batch norm with the stored statistics (x - mean) * (gamma * inv_std) + beta in float64, and the
 * sign activation (>= 0 -> +1, BinaryNet's round-half-away-from-zero). No padding, no flipping, no
 * integer thresholds. Because x and W are ±1, W·x = fan_in - 2 * popcount(w xor x) is an exact integer, so
 * it is computed by popcount (in the WebAssembly kernel); only the batch-norm step is floating point.
 */
interface PackedSign {
  fanIn: number;
  fanOut: number;
  words: number;
  /** Neuron-major sign bits of W (bit 1 = W >= 0); bits past fanIn are 0. */
  bits: Uint32Array;
  layer: DenseLayer;
  scale: Float64Array;
}

function packSigns(layer: DenseLayer): PackedSign {
  const { fanIn, fanOut, W, gamma, invStd } = layer;
  const words = Math.ceil(fanIn / 32);
  const bits = new Uint32Array(fanOut * words);
  for (let i = 0; i < fanIn; i++) {
    const row = i * fanOut;
    const w = i >>> 5;
    const m = 1 << (i & 31);
    for (let n = 0; n < fanOut; n++)
      if (must(W[row + n], 'W') >= 0) bits[n * words + w] = must(bits[n * words + w], 'the sign bits') | m;
  }
  const scale = new Float64Array(fanOut);
  for (let n = 0; n < fanOut; n++) scale[n] = must(gamma[n], 'gamma') * must(invStd[n], 'inv_std');
  return { fanIn, fanOut, words, bits, layer, scale };
}

export interface FloatModelRunner {
  classes: number;
  /** Batch-norm outputs of the last layer for one image (length = classes), plus every layer's output bits. */
  forward(pixels: Uint8Array, image: number): { outputs: Float64Array; bits: Uint32Array[] };
}

export function floatForward(model: LfcModel): FloatModelRunner {
  const packed = model.layers.map(packSigns);
  const counter = createMismatchCounter(
    packed.map((p) => ({ words: p.words, neurons: p.fanOut, bits: p.bits })),
  );
  const x0 = new Uint32Array(Math.ceil(LFC_INPUTS / 32));
  return {
    classes: model.classes,
    forward(pixels, image) {
      binarizeImage(pixels, image, x0);
      let x: Uint32Array = x0;
      const bits: Uint32Array[] = [];
      let outputs = new Float64Array(0);
      packed.forEach((p, l) => {
        const { b, beta, mean } = p.layer;
        const y = new Uint32Array(Math.ceil(p.fanOut / 32));
        const bn = new Float64Array(p.fanOut);
        const mismatches = counter.count(l, x);
        for (let n = 0; n < p.fanOut; n++) {
          const dot = p.fanIn - 2 * must(mismatches[n], 'the mismatch counts');
          const v =
            (dot + must(b[n], 'b') - must(mean[n], 'mean')) * must(p.scale[n], 'the batch-norm scale') +
            must(beta[n], 'beta');
          bn[n] = v;
          if (v >= 0) y[n >>> 5] = must(y[n >>> 5], 'the output bits') | (1 << (n & 31));
        }
        bits.push(y);
        outputs = bn;
        x = y;
      });
      return { outputs, bits };
    },
  };
}

/** Argmax of the outputs (first maximum, as numpy's argmax). */
export function argmax(v: Float64Array): number {
  let best = 0;
  for (let i = 1; i < v.length; i++) if (must(v[i], 'the outputs') > must(v[best], 'the outputs')) best = i;
  return best;
}

/** The board's rule on float outputs: the highest class whose output is >= 0 (fires), 0 if none. */
export function floatBoardRule(v: Float64Array): number {
  return highestSetBit(
    Array.from(v, (x) => (x >= 0 ? 1 : 0)),
    v.length,
  );
}

/**
 * Runs the float model and the hardware-exact simulator on the same images and explains every image
 * where the float model under the board rule and the hardware disagree (first layer and neuron whose
 * bit differs, with its popcount, integer threshold and float batch-norm value).
 */
export function compareWithFloatModel(
  model: LfcModel,
  params: LfcParams,
  images: IdxImages,
  labels: IdxLabels,
  options: { imagesName?: string; labelsName?: string; maxListed?: number } = {},
): FloatComparison {
  checkImageShape(images, options.imagesName ?? 'images');
  if (images.count !== labels.count)
    throw new InputFormatError(
      options.labelsName ?? 'labels',
      `${labels.count} labels for ${images.count} images`,
    );
  if (params.classes.length !== model.classes)
    throw new InputFormatError(
      model.source,
      `${model.classes} outputs, but the param folder has ${params.classes.length} classes: not the model it was converted from`,
    );
  const sim = createSimulator(params);
  const hw = new Uint8Array(images.count);
  sim.run(images.pixels, 0, images.count, hw);
  const runner = floatForward(model);
  let argmaxOk = 0;
  let boardOk = 0;
  let hwOk = 0;
  let same = 0;
  let ruleChanged = 0;
  const disagreements: Disagreement[] = [];
  for (let i = 0; i < images.count; i++) {
    const label = must(labels.labels[i], 'the labels');
    const { outputs, bits } = runner.forward(images.pixels, i);
    const a = argmax(outputs);
    const f = floatBoardRule(outputs);
    const h = must(hw[i], 'the hardware classes');
    if (a === label) argmaxOk++;
    if (f === label) boardOk++;
    if (h === label) hwOk++;
    if (a !== f) ruleChanged++;
    if (f === h) same++;
    else if (disagreements.length < (options.maxListed ?? 1000))
      disagreements.push({
        image: i,
        label,
        board: h,
        floatBoardRule: f,
        reason: explain(model, params, sim, images.pixels, i, bits),
      });
  }
  const pct = (n: number) => (images.count === 0 ? 0 : (100 * n) / images.count);
  return {
    total: images.count,
    argmax: { correct: argmaxOk, accuracy: pct(argmaxOk) },
    boardRule: { correct: boardOk, accuracy: pct(boardOk) },
    hardware: { correct: hwOk, accuracy: pct(hwOk) },
    agreement: { same, percent: pct(same) },
    // An LFC has no max-pool, so training's and the overlay's order are the same graph.
    causes: { poolOrder: 0, lastLayerAndRule: ruleChanged, thresholdRounding: images.count - same },
    disagreements,
  };
}

/** Finds the first layer where hardware and float bits differ and describes the first differing neuron. */
function explain(
  model: LfcModel,
  params: LfcParams,
  sim: ReturnType<typeof createSimulator>,
  pixels: Uint8Array,
  image: number,
  floatBits: Uint32Array[],
): string {
  for (const [l, layer] of params.layers.entries()) {
    const x = sim.layerInput(pixels, image, l);
    const hwOut = sim.layerInput(pixels, image, l + 1);
    const d = must(model.layers[l], 'the trained layers');
    const fb = must(floatBits[l], 'the float output bits');
    const differing: number[] = [];
    for (let n = 0; n < d.fanOut; n++)
      if (
        ((must(hwOut[n >>> 5], 'the hardware output bits') ^ must(fb[n >>> 5], 'the float output bits')) >>>
          (n & 31)) &
        1
      )
        differing.push(n);
    const [n] = differing;
    if (n === undefined) continue;
    const words = layer.mw / 32;
    let mismatch = 0;
    for (let w = 0; w < words; w++)
      mismatch += popcount32(
        must(layer.bits[n * words + w], 'the weight bits') ^ must(x[w], 'the layer input'),
      );
    const acc = layer.mw - mismatch;
    const T = must(layer.thresholds[n], 'the thresholds');
    const g = must(d.gamma[n], 'gamma');
    const s = g < 0 ? -1 : 1;
    const thr =
      must(d.mean[n], 'mean') -
      must(d.b[n], 'b') -
      must(d.beta[n], 'beta') / (g * must(d.invStd[n], 'inv_std'));
    const exact = (d.fanIn + s * thr) / 2;
    const kind = Number.isInteger(exact)
      ? 'exact tie: float fires at popcount == threshold, hardware needs popcount > threshold'
      : exact < 0 && Math.trunc(exact) !== Math.floor(exact)
        ? 'negative threshold truncated toward zero'
        : `threshold rounding (float threshold ${exact}, integer ${T})`;
    return `layer ${l} neuron ${n}${differing.length > 1 ? ` (+${differing.length - 1} more)` : ''}: popcount ${acc}, hardware fires iff > ${T}: ${acc > T ? 'fires' : 'silent'}; float fires iff popcount >= ${exact}: ${kind}`;
  }
  return 'no layer differs (same output bits); the class rule differs';
}
