import { createHash } from 'node:crypto';
import { must } from '../defined';
import { UserError } from '../errors';
import type { IdxImages, IdxLabels } from './idx';
import { idxPayload } from './idx';
import { encodeParams } from './params';
import { KNOWN_IDX_FILES } from './presets';
import { checkImageShape, createSimulator, popcount32 } from './simulate';
import type { LfcParams } from './types';

/**
 * Re-chooses the last layer's integer thresholds, one per class, to maximise board-rule accuracy
 * (highest set output bit, 0 if none) on labelled validation images, with the bit-exact simulator.
 * Only `3-*-thres.bin` change: the weights and layers 0..2 are untouched.
 *
 * Search: plain coordinate ascent. The input to the last layer is computed once per image; then for
 * class c, with the other thresholds fixed, each image is correct either when c fires or when it does
 * not, so accuracy as a function of T_c is a prefix sum over popcount values (O(images + 1025) per
 * class). Rounds repeat until no class improves. Among equal maxima the value closest to the current
 * threshold wins (the smallest change from the trained model).
 */
export interface CalibrationResult {
  params: LfcParams;
  files: Map<string, Uint8Array>;
  before: { correct: number; accuracy: number; thresholds: number[] };
  after: { correct: number; accuracy: number; thresholds: number[] };
  images: number;
  rounds: number;
}

export function calibrateLastLayer(
  params: LfcParams,
  images: IdxImages,
  labels: IdxLabels,
): CalibrationResult {
  checkImageShape(images, 'calibration images');
  if (images.count !== labels.count)
    throw new UserError(`calibration: ${labels.count} labels for ${images.count} images`);
  if (images.count === 0) throw new UserError('calibration: no images');
  const last = params.layers.length - 1;
  const L = must(params.layers[last], 'the layers');
  const classes = params.classes.length;
  const words = L.mw / 32;
  const sim = createSimulator(params);
  const n = images.count;
  // acc[i * classes + c]: popcount(xnor) of class c's neuron for image i (0..MW).
  const acc = new Uint16Array(n * classes);
  for (let i = 0; i < n; i++) {
    const x = sim.layerInput(images.pixels, i, last);
    for (let c = 0; c < classes; c++) {
      let mism = 0;
      for (let w = 0; w < words; w++)
        mism += popcount32(must(L.bits[c * words + w], 'the weight bits') ^ must(x[w], 'the layer input'));
      acc[i * classes + c] = L.mw - mism;
    }
  }
  const T = Array.from({ length: classes }, (_, c) => must(L.thresholds[c], 'the thresholds'));
  const score = (t: number[]): number => {
    let ok = 0;
    for (let i = 0; i < n; i++) {
      let p = 0;
      for (let c = classes - 1; c >= 0; c--)
        if (must(acc[i * classes + c], 'the popcounts') > must(t[c], 'the thresholds')) {
          p = c;
          break;
        }
      if (p === labels.labels[i]) ok++;
    }
    return ok;
  };
  const before = score(T);
  const maxAcc = L.mw;
  const ifFired = new Int32Array(maxAcc + 2);
  const ifSilent = new Int32Array(maxAcc + 2);
  let current = before;
  let rounds = 0;
  for (let improved = true; improved && rounds < 20; rounds++) {
    improved = false;
    for (let c = 0; c < classes; c++) {
      ifFired.fill(0);
      ifSilent.fill(0);
      for (let i = 0; i < n; i++) {
        // Highest other class that fires.
        let other = -1;
        for (let k = classes - 1; k >= 0; k--)
          if (k !== c && must(acc[i * classes + k], 'the popcounts') > must(T[k], 'the thresholds')) {
            other = k;
            break;
          }
        const y = must(labels.labels[i], 'the labels');
        const v = must(acc[i * classes + c], 'the popcounts');
        if (Math.max(other, c) === y) ifFired[v] = must(ifFired[v], 'the fired tally') + 1;
        if (Math.max(other, 0) === y) ifSilent[v] = must(ifSilent[v], 'the silent tally') + 1;
      }
      // score(t) = sum_{v > t} ifFired[v] + sum_{v <= t} ifSilent[v], for t in -1 .. maxAcc.
      let firedAbove = 0;
      for (let v = 0; v <= maxAcc; v++) firedAbove += must(ifFired[v], 'the fired tally');
      let silentBelow = 0;
      let best = -1;
      const cur = must(T[c], 'the thresholds');
      let bestT = cur;
      for (let t = -1; t <= maxAcc; t++) {
        if (t >= 0) {
          firedAbove -= must(ifFired[t], 'the fired tally');
          silentBelow += must(ifSilent[t], 'the silent tally');
        }
        const s = firedAbove + silentBelow;
        const curClamped = Math.max(-1, Math.min(maxAcc, cur));
        if (s > best || (s === best && Math.abs(t - curClamped) < Math.abs(bestT - curClamped))) {
          best = s;
          bestT = t;
        }
      }
      // Keep the original value when it scores the same (it may lie outside -1..MW).
      const curScore = score(T);
      if (best > curScore) {
        T[c] = bestT;
        current = best;
        improved = true;
      }
    }
  }
  const thresholds = L.thresholds.slice();
  for (const [c, t] of T.entries()) thresholds[c] = t;
  const layers = params.layers.map((l, i) => (i === last ? { ...l, thresholds } : l));
  const out: LfcParams = { ...params, layers };
  const pct = (k: number) => (100 * k) / n;
  return {
    params: out,
    files: encodeParams(out),
    before: {
      correct: before,
      accuracy: pct(before),
      thresholds: Array.from(L.thresholds.subarray(0, classes)),
    },
    after: { correct: current, accuracy: pct(current), thresholds: T },
    images: n,
    rounds,
  };
}

/**
 * Refuses a known dataset's test files (decompressed SHA-256): calibrating on the test set would make
 * every later test accuracy optimistic. Returns the matching known file (train set) if any.
 */
export function checkNotTestSet(
  bytes: Uint8Array,
  fileName: string,
): (typeof KNOWN_IDX_FILES)[number] | undefined {
  const raw = idxPayload(bytes, fileName);
  const sha = createHash('sha256').update(raw).digest('hex');
  const known = KNOWN_IDX_FILES.find((k) => k.sha256 === sha);
  if (known?.role === 'test')
    throw new UserError(
      `${fileName} is the ${known.dataset} test set (${known.file}); calibrate on validation images (e.g. the training files' images 50,000..59,999) and keep the test set for verify`,
    );
  return known;
}
