import { UserError } from '../errors';
import { INT16_MAX, INT16_MIN, PAD_THRESHOLD_16 } from './overlays';
import { encodeParams, LFC_SHAPES } from './params';
import type { ConvertResult, ConvertSummary, DenseLayer, LayerParams, LfcModel } from './types';

/**
 * Folds one trained dense layer (weights + batch norm) into the hardware's bit matrix and
 * popcount thresholds, exactly as BNN-PYNQ's finnthesizer does (docs/overlays.md §2):
 *
 *   thr = (mean - b) - beta / (gamma * inv_std)      (float64)
 *   s   = sign(gamma);  bit = (s * W >= 0);  T = trunc((fan_in + s * thr) / 2)
 *
 * Why it works: the neuron fires when gamma * inv_std * (W·x + b - mean) + beta >= 0. With x and W in
 * {-1, +1}, W·x = 2 * popcount(xnor) - fan_in, so the condition becomes popcount > T (or < for gamma < 0,
 * which we turn into > by flipping the neuron's weights and threshold).
 */
export function convertLayer(
  layer: DenseLayer,
  index: number,
): { params: LayerParams; flipped: number; saturated: number } {
  const shape = LFC_SHAPES[index];
  if (!shape) throw new RangeError(`lfcW1A1 has no layer ${index}`);
  const { mw, mh } = shape;
  const wordsPerRow = mw / 32;
  const { fanIn, fanOut, W, b, beta, gamma, mean, invStd } = layer;
  // Every bit starts as 1: padding synapses and padding neurons are all-ones (finnthesizer's choice).
  const bits = new Uint32Array(mh * wordsPerRow).fill(0xffffffff);
  // Padding neurons get threshold 2^16 - 1, saturated to int16 like every threshold.
  const thresholds = new Int16Array(mh).fill(Math.min(PAD_THRESHOLD_16, INT16_MAX));
  let flipped = 0;
  let saturated = 0;
  const sign = new Float64Array(fanOut);
  for (let n = 0; n < fanOut; n++) {
    const g = gamma[n] as number;
    const s = g < 0 ? -1 : 1;
    sign[n] = s;
    if (s < 0) flipped++;
    const thr = (mean[n] as number) - (b[n] as number) - (beta[n] as number) / (g * (invStd[n] as number));
    const t = Math.trunc((fanIn + s * thr) / 2);
    const clipped = Math.max(INT16_MIN, Math.min(INT16_MAX, t));
    if (clipped !== t) saturated++;
    thresholds[n] = clipped;
    // Clear the real synapses' bits (padding synapses past fanIn stay 1); set below where s * W >= 0.
    for (let i = 0; i < fanIn; i += 32) {
      const end = Math.min(32, fanIn - i);
      bits[n * wordsPerRow + (i >>> 5)] = end === 32 ? 0 : (~0 << end) >>> 0;
    }
  }
  // Walk W row by row (its memory order): input i, all neurons n.
  for (let i = 0; i < fanIn; i++) {
    const row = i * fanOut;
    const word = i >>> 5;
    const mask = 1 << (i & 31);
    for (let n = 0; n < fanOut; n++)
      if ((sign[n] as number) * (W[row + n] as number) >= 0) {
        const at = n * wordsPerRow + word;
        bits[at] = ((bits[at] as number) | mask) >>> 0;
      }
  }
  return { params: { ...shape, bits, thresholds }, flipped, saturated };
}

/** Converts a validated lfcW1A1 model into the param folder's files (names relative to the lfcW1A1 folder). */
export function convertLfc(model: LfcModel, classes: readonly string[]): ConvertResult {
  if (classes.length !== model.classes)
    throw new UserError(
      `${classes.length} class names for a model with ${model.classes} outputs (${model.source}); pass --classes with exactly ${model.classes} names, one per line`,
    );
  const layers: LayerParams[] = [];
  const summary: ConvertSummary = { network: 'lfcW1A1', classes: model.classes, layers: [], fileCount: 0 };
  model.layers.forEach((layer, l) => {
    const { params, flipped, saturated } = convertLayer(layer, l);
    layers.push(params);
    summary.layers.push({
      layer: l,
      fanIn: layer.fanIn,
      fanOut: layer.fanOut,
      paddedFanIn: params.mw,
      paddedNeurons: params.mh,
      simd: params.simd,
      pe: params.pe,
      flipped,
      saturated,
    });
  });
  const params = { network: 'lfcW1A1' as const, layers, classes: [...classes] };
  const files = encodeParams(params);
  summary.fileCount = files.size;
  return { files, params, summary };
}
