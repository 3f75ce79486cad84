import { must } from '../defined';
import { InputFormatError, UserError } from '../errors';
import type { OverlayModel } from './overlay-model';
import {
  clearLanes,
  decodeOverlayFiles,
  encodeParamFiles,
  laneRowWords,
  type OverlayParams,
  padLanes,
} from './overlay-params';
import {
  accuOffset,
  INT16_MAX,
  INT16_MIN,
  type OverlayLayer,
  type OverlayName,
  PAD_THRESHOLD_16,
  PAD_THRESHOLD_24,
  paddedFanIn,
  paddedNeurons,
  type ThresholdRule,
  thresholdRule,
  thresholdsPerNeuron,
} from './overlays';
import type { LayerSummary, TrainedLayer } from './types';

/**
 * Converts a trained model of any overlay into its param folder, byte for byte as BNN-PYNQ's
 * finnthesizer (HEAD) does; the rules are in docs/overlays.md §2. Per layer, in float64:
 *
 *   s = sign(gamma);  T_i = (mean - b) + (S_i - beta) / (gamma * inv_std)
 *   S = [0] for binary outputs, [-0.5, +0.5] for ternary outputs
 *
 * then the layer's threshold rule (overlays.ts `thresholdRule`) turns s·T_i into the stored integer, and
 * weights become s·W binarized (>= 0 -> +1) or rounded to ternary (floor(x + 0.5)). The popcount rules'
 * (fan_in + ·) / 2: with x and W in {-1, +1}, W·x = 2·popcount(xnor(W, x)) - fan_in; the flip by s turns
 * "fires below" (gamma < 0) into "fires above" like every other neuron.
 */

export interface OverlayConvertSummary {
  network: OverlayName;
  classes: number;
  layers: Array<
    LayerSummary & {
      kind: 'conv' | 'dense';
      weightBits: 1 | 2;
      thresholdsPerNeuron: number;
      rule: ThresholdRule;
    }
  >;
  /**
   * Conv layers followed by a max-pool: the overlay pools after thresholding, the training graph pools
   * before batch norm; in a channel with gamma < 0 training computes a min where the board computes a max.
   */
  poolOrder: Array<{ layer: number; channels: number; negativeGamma: number[] }>;
  fileCount: number;
}

export interface OverlayConvertResult {
  files: Map<string, Uint8Array>;
  /** The folder as the hardware reads it (decoded from `files`). */
  readonly params: OverlayParams;
  summary: OverlayConvertSummary;
}

const sign = (g: number): 1 | -1 => (g < 0 ? -1 : 1);
/** finnthesizer's integer-like threshold: ceil for flipped neurons, floor otherwise. */
const roundToward = (v: number, s: number): number => (s < 0 ? Math.ceil(v) : Math.floor(v));

/**
 * finnthesizer's weight quantizer on s·W, as its lane code (`laneCode` of lib/bnn/overlay-params.ts):
 * binary `>= 0 -> +1` (-0 too) = bit 1, else bit 0; ternary floor(x + 0.5) in 2-bit two's complement.
 */
const quantize = (wb: 1 | 2, wf: number): number => (wb === 1 ? (wf < 0 ? 0 : 1) : Math.floor(wf + 0.5) & 3);

/**
 * ORs `code` into lane `col` of the packed row starting at word `row` (the codec's form, PackedLayer of
 * lib/bnn/overlay-params.ts: lane col at bit col·wb). Local, not imported: the converter's inner loop.
 */
function orLane(lanes: Uint32Array, row: number, col: number, wb: 1 | 2, code: number): void {
  const bit = col * wb;
  const w = row + (bit >>> 5);
  lanes[w] = must(lanes[w], 'the lanes') | (code << (bit & 31));
}

/** Weight (dense or conv) of neuron n at column `col` of the overlay's matrix (conv: (ky, kx, c) order). */
function latentWeight(layer: OverlayLayer, t: TrainedLayer, n: number, col: number): number {
  if (!layer.conv) return must(t.W[col * t.fanOut + n], 'the dense weights');
  const C = layer.conv.inChannels;
  const k = layer.conv.kernel;
  const c = col % C;
  const pos = (col - c) / C;
  const kx = pos % k;
  const ky = (pos - kx) / k;
  return must(t.W[((n * C + c) * k + ky) * k + kx], 'the conv weights');
}

function convertLayer(
  model: OverlayModel,
  l: number,
): { lanes: Uint32Array; stored: Float64Array; flipped: number; saturated: number } {
  const { overlay } = model;
  const layer = must(overlay.layers[l], 'the overlay layers');
  const t = must(model.layers[l], 'the trained layers');
  const mh = paddedNeurons(overlay, l);
  const nthr = thresholdsPerNeuron(layer);
  const rule = thresholdRule(layer);
  const offset = accuOffset(overlay, l);
  const wb = layer.weightBits;
  // The weights go straight into the files' packed lanes; pad lanes keep their pad value.
  const rowWords = laneRowWords(overlay, l);
  const lanes = padLanes(overlay, l);
  const pad = rule === 'fixed-point' ? PAD_THRESHOLD_24 : PAD_THRESHOLD_16;
  const stored = new Float64Array(mh * nthr).fill(pad - offset);
  const steps = nthr === 1 ? [0] : [-0.5, 0.5];
  let flipped = 0;
  let saturated = 0;
  for (let n = 0; n < t.fanOut; n++) {
    const g = must(t.gamma[n], 'gamma');
    const s = sign(g);
    if (s < 0) flipped++;
    clearLanes(lanes, n * rowWords, t.fanIn, wb);
    if (layer.conv)
      for (let col = 0; col < t.fanIn; col++)
        orLane(lanes, n * rowWords, col, wb, quantize(wb, latentWeight(layer, t, n, col) * s));
    for (let i = 0; i < nthr; i++) {
      const T =
        must(t.mean[n], 'mean') -
        must(t.b[n], 'b') +
        (must(steps[i], 'the activation steps') - must(t.beta[n], 'beta')) /
          (g * must(t.invStd[n], 'inv_std'));
      let v: number;
      switch (rule) {
        case 'fixed-point':
          v = roundToward(s * 256 * T, s);
          break;
        case 'popcount-conv':
          v = Math.trunc((t.fanIn + roundToward(s * T, s)) / 2);
          break;
        case 'popcount-dense':
          v = Math.trunc((t.fanIn + s * T) / 2);
          break;
        default:
          v = roundToward(s * T, s) - offset;
      }
      if (rule !== 'fixed-point') {
        const clipped = Math.max(INT16_MIN, Math.min(INT16_MAX, v));
        if (clipped !== v) saturated++;
        v = clipped;
      } else if (!Number.isSafeInteger(v))
        throw new InputFormatError(
          `${model.source}: layer ${l} neuron ${n}`,
          `first-layer threshold ${v} is out of range: its batch-norm terms (gamma, inv_std) are degenerate`,
        );
      stored[n * nthr + i] = v;
    }
  }
  // Dense weights in the npz's memory order (input-major), for speed: row n of the matrix is column n.
  if (!layer.conv) {
    const signs = Float64Array.from(t.gamma, sign);
    for (let col = 0; col < t.fanIn; col++) {
      const from = col * t.fanOut;
      for (let n = 0; n < t.fanOut; n++)
        orLane(
          lanes,
          n * rowWords,
          col,
          wb,
          quantize(wb, must(t.W[from + n], 'the dense weights') * must(signs[n], 'the signs')),
        );
    }
  }
  if (rule !== 'fixed-point')
    for (let j = t.fanOut * nthr; j < stored.length; j++)
      stored[j] = Math.max(INT16_MIN, Math.min(INT16_MAX, must(stored[j], 'the thresholds')));
  return { lanes, stored, flipped, saturated };
}

/** Converts a validated model into its param folder's files (names relative to `<dataset>/<network>/`). */
export function convertOverlay(model: OverlayModel, classes: readonly string[]): OverlayConvertResult {
  if (classes.length !== model.classes)
    throw new UserError(
      `${classes.length} class names for a model with ${model.classes} outputs (${model.source}); pass --classes with exactly ${model.classes} names, one per line`,
    );
  const { overlay } = model;
  const summary: OverlayConvertSummary = {
    network: overlay.name,
    classes: model.classes,
    layers: [],
    poolOrder: [],
    fileCount: 0,
  };
  const converted = overlay.layers.map((layer, l) => {
    const c = convertLayer(model, l);
    const t = must(model.layers[l], 'the trained layers');
    summary.layers.push({
      layer: l,
      kind: layer.kind,
      fanIn: t.fanIn,
      fanOut: t.fanOut,
      paddedFanIn: paddedFanIn(overlay, l),
      paddedNeurons: paddedNeurons(overlay, l),
      simd: layer.simd,
      pe: layer.pe,
      weightBits: layer.weightBits,
      thresholdsPerNeuron: thresholdsPerNeuron(layer),
      rule: thresholdRule(layer),
      flipped: c.flipped,
      saturated: c.saturated,
    });
    if (layer.conv?.pool) {
      const negativeGamma: number[] = [];
      for (let n = 0; n < t.fanOut; n++) if (must(t.gamma[n], 'gamma') < 0) negativeGamma.push(n);
      summary.poolOrder.push({ layer: l, channels: t.fanOut, negativeGamma });
    }
    return c;
  });
  const files = encodeParamFiles(
    overlay,
    converted.map((c) => ({ lanes: c.lanes, thresholds: c.stored })),
    classes,
  );
  summary.fileCount = files.size;
  let params: OverlayParams | undefined;
  return {
    files,
    // Decoded from the files on first use (calibration, tests), so convert pays nothing for it.
    get params() {
      params ??= decodeOverlayFiles(files, overlay.name, '(converted)');
      return params;
    },
    summary,
  };
}
