import { must } from '../defined';
/**
 * The host's decision rules: how the board's output lanes become a class (docs/overlays.md §4).
 * Each rule lives only here; the simulators, verify, calibration and the conversion job call these.
 */

/**
 * LFC batch rule (`inference_multiple`, `classify_mnists`): the highest set output bit among the first
 * `classes` lanes; 0 when none is set. `lanes[j]` is 0 or 1.
 */
export function highestSetBit(lanes: ArrayLike<number>, classes: number): number {
  for (let j = classes - 1; j >= 0; j--) if (lanes[j] !== 0) return j;
  return 0;
}

/** highestSetBit on a 64-bit output held as two 32-bit words (the lfcW1A1 simulator's packed form). */
export function highestSetBitOfWords(lo: number, hi: number, classes: number): number {
  if (classes < 32) lo &= (1 << classes) - 1;
  if (classes <= 32) hi = 0;
  else if (classes < 64) hi &= (1 << (classes - 32)) - 1;
  if (hi !== 0) return 63 - Math.clz32(hi);
  if (lo !== 0) return 31 - Math.clz32(lo);
  return 0;
}

/**
 * CNV batch rule (`testPrebuiltCIFAR10_multiple_images`, `classify_cifars`): `maxVal = 0; if score >
 * maxVal` over the first `classes` 16-bit scores: the lowest-index maximum, but class 0 when every
 * score is <= 0 (reachable for the A2 overlays, whose scores are signed).
 */
export function maxPositiveScore(scores: ArrayLike<number>, classes: number): number {
  let best = 0;
  let max = 0;
  for (let j = 0; j < classes; j++) {
    const score = must(scores[j], 'the scores');
    if (score > max) {
      max = score;
      best = j;
    }
  }
  return best;
}

/** CNV single-image rule (`classify_cifar`: `max_element`): the lowest-index maximum, negative or not. */
export function firstMaxScore(scores: ArrayLike<number>, classes: number): number {
  let best = 0;
  for (let j = 1; j < classes; j++)
    if (must(scores[j], 'the scores') > must(scores[best], 'the scores')) best = j;
  return best;
}
